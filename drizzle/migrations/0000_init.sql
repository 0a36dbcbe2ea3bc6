CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"store_id" uuid,
	"token_hash" varchar(64) NOT NULL,
	"label" varchar(200),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"store_id" uuid,
	"user_id" uuid,
	"action" varchar(100) NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "message_attempts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"notification_id" uuid NOT NULL,
	"sender_id" uuid,
	"attempt_no" integer NOT NULL,
	"rendered_text" text,
	"phone" varchar(20),
	"chat_id" varchar(100),
	"waha_message_id" varchar(200),
	"waha_key_id" varchar(120),
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"outcome" varchar(30) DEFAULT 'pending' NOT NULL,
	"error" text,
	"purged_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "message_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"envelope_id" varchar(100),
	"store_id" uuid,
	"notification_id" uuid,
	"waha_key_id" varchar(120),
	"kind" varchar(40) NOT NULL,
	"from_status" varchar(20),
	"to_status" varchar(20),
	"ack" integer,
	"pending" boolean DEFAULT false NOT NULL,
	"detail" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"store_id" uuid NOT NULL,
	"order_code" varchar(64) NOT NULL,
	"event" varchar(20) NOT NULL,
	"status" varchar(20) DEFAULT 'queued' NOT NULL,
	"reason_code" varchar(60),
	"reason" text,
	"template_id" uuid,
	"variant" integer,
	"workflow_id" varchar(300),
	"event_at" timestamp with time zone DEFAULT now() NOT NULL,
	"scheduled_for" timestamp with time zone,
	"sent_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"read_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notifications_status_ck" CHECK (status in ('queued', 'scheduled', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped', 'undelivered')),
	CONSTRAINT "notifications_event_ck" CHECK (event in ('new', 'accepted', 'ready_for_pickup', 'in_delivery', 'completed', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "opt_outs" (
	"store_id" uuid NOT NULL,
	"phone" varchar(20) NOT NULL,
	"source" varchar(20) NOT NULL,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "opt_outs_store_id_phone_pk" PRIMARY KEY("store_id","phone")
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"store_id" uuid NOT NULL,
	"code" varchar(64) NOT NULL,
	"kaspi_id" varchar(128),
	"state" varchar(40) NOT NULL,
	"status" varchar(60) NOT NULL,
	"snapshot" jsonb NOT NULL,
	"source" varchar(10) DEFAULT 'poll' NOT NULL,
	"creation_date" timestamp with time zone NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"is_open" boolean DEFAULT true NOT NULL,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "senders" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"waha_server_url" varchar(500) NOT NULL,
	"waha_session_name" varchar(100) DEFAULT 'default' NOT NULL,
	"waha_api_key_enc" text,
	"webhook_secret_enc" text,
	"engine" varchar(10),
	"min_gap_seconds" integer DEFAULT 20 NOT NULL,
	"max_gap_seconds" integer DEFAULT 60 NOT NULL,
	"daily_cap" integer DEFAULT 500,
	"per_buyer_daily_limit" integer DEFAULT 3,
	"quiet_hours_start" varchar(5) DEFAULT '22:00',
	"quiet_hours_end" varchar(5) DEFAULT '09:00',
	"timezone" varchar(64) DEFAULT 'Asia/Almaty' NOT NULL,
	"next_allowed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"session_status" varchar(20) DEFAULT 'UNKNOWN' NOT NULL,
	"session_status_at" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "senders_gap_ck" CHECK (min_gap_seconds >= 0 and max_gap_seconds >= min_gap_seconds and max_gap_seconds <= 3600),
	CONSTRAINT "senders_daily_cap_ck" CHECK (daily_cap is null or daily_cap > 0),
	CONSTRAINT "senders_session_status_ck" CHECK (session_status in ('UNKNOWN', 'STOPPED', 'STARTING', 'SCAN_QR_CODE', 'WORKING', 'FAILED'))
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id_hash" varchar(64) PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"csrf_token" varchar(64) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "store_members" (
	"store_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"role" varchar(20) DEFAULT 'admin' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "store_members_store_id_user_id_pk" PRIMARY KEY("store_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "stores" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" varchar(200) NOT NULL,
	"kaspi_token_enc" text,
	"kaspi_merchant_uid" varchar(100),
	"poll_interval_seconds" integer DEFAULT 60 NOT NULL,
	"timezone" varchar(64) DEFAULT 'Asia/Almaty' NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"sending_paused" boolean DEFAULT false NOT NULL,
	"test_mode_phone" varchar(20),
	"token_rejected" boolean DEFAULT false NOT NULL,
	"token_rejected_reason" text,
	"connected_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lookback_minutes" integer DEFAULT 0 NOT NULL,
	"poll_cursor" timestamp with time zone,
	"last_poll_at" timestamp with time zone,
	"last_poll_error" text,
	"last_poll_orders" integer,
	"retention_days" integer DEFAULT 180 NOT NULL,
	"sender_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stores_poll_interval_ck" CHECK (poll_interval_seconds between 10 and 3600),
	CONSTRAINT "stores_lookback_ck" CHECK (lookback_minutes between 0 and 20160),
	CONSTRAINT "stores_retention_ck" CHECK (retention_days between 1 and 3650)
);
--> statement-breakpoint
CREATE TABLE "templates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"store_id" uuid NOT NULL,
	"name" varchar(255) NOT NULL,
	"text" text NOT NULL,
	"event" varchar(20) DEFAULT 'new' NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"weight" integer DEFAULT 100 NOT NULL,
	"delay_minutes" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "templates_event_ck" CHECK (event in ('new', 'accepted', 'ready_for_pickup', 'in_delivery', 'completed', 'cancelled')),
	CONSTRAINT "templates_weight_ck" CHECK (weight between 0 and 10000),
	CONSTRAINT "templates_delay_ck" CHECK (delay_minutes between 0 and 10080),
	CONSTRAINT "templates_text_len_ck" CHECK (char_length(text) between 1 and 65536)
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" varchar(320) NOT NULL,
	"password_hash" text NOT NULL,
	"is_super_admin" boolean DEFAULT false NOT NULL,
	"locale" varchar(8) DEFAULT 'ru' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_attempts" ADD CONSTRAINT "message_attempts_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_attempts" ADD CONSTRAINT "message_attempts_sender_id_senders_id_fk" FOREIGN KEY ("sender_id") REFERENCES "public"."senders"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_events" ADD CONSTRAINT "message_events_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_events" ADD CONSTRAINT "message_events_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opt_outs" ADD CONSTRAINT "opt_outs_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "store_members" ADD CONSTRAINT "store_members_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "store_members" ADD CONSTRAINT "store_members_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stores" ADD CONSTRAINT "stores_sender_id_senders_id_fk" FOREIGN KEY ("sender_id") REFERENCES "public"."senders"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "templates" ADD CONSTRAINT "templates_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_hash_uq" ON "api_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "audit_log_store_idx" ON "audit_log" USING btree ("store_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "message_attempts_no_uq" ON "message_attempts" USING btree ("notification_id","attempt_no");--> statement-breakpoint
CREATE INDEX "message_attempts_key_idx" ON "message_attempts" USING btree ("waha_key_id");--> statement-breakpoint
CREATE UNIQUE INDEX "message_events_envelope_uq" ON "message_events" USING btree ("store_id","envelope_id");--> statement-breakpoint
CREATE INDEX "message_events_notification_idx" ON "message_events" USING btree ("notification_id","created_at");--> statement-breakpoint
CREATE INDEX "message_events_pending_idx" ON "message_events" USING btree ("waha_key_id") WHERE pending;--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_store_order_event_uq" ON "notifications" USING btree ("store_id","order_code","event");--> statement-breakpoint
CREATE INDEX "notifications_store_created_idx" ON "notifications" USING btree ("store_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "notifications_store_status_created_idx" ON "notifications" USING btree ("store_id","status","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "notifications_queued_idx" ON "notifications" USING btree ("store_id") WHERE status = 'queued' and workflow_id is null;--> statement-breakpoint
CREATE UNIQUE INDEX "orders_store_code_uq" ON "orders" USING btree ("store_id","code");--> statement-breakpoint
CREATE INDEX "orders_open_idx" ON "orders" USING btree ("store_id","creation_date") WHERE is_open;--> statement-breakpoint
CREATE UNIQUE INDEX "senders_server_session_uq" ON "senders" USING btree ("waha_server_url","waha_session_name");--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "store_members_user_idx" ON "store_members" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "templates_store_event_idx" ON "templates" USING btree ("store_id","event") WHERE deleted_at is null;--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_lower_uq" ON "users" USING btree (lower("email"));--> statement-breakpoint
CREATE VIEW "public"."whatsapp_messages_log" AS (
  select n.id, n.store_id, n.order_code as order_id, a.phone as customer_phone,
         a.rendered_text as message_text, n.template_id, n.status,
         case when a.waha_message_id is null then null else jsonb_build_object('id', a.waha_message_id) end as waha_response,
         coalesce(n.sent_at, n.created_at) as sent_at, n.delivered_at, n.reason as error_message
  from notifications n
  left join lateral (
    select * from message_attempts ma where ma.notification_id = n.id order by ma.attempt_no desc limit 1
  ) a on true);