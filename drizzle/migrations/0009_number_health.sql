CREATE TABLE "buyer_replies" (
	"sender_id" uuid NOT NULL,
	"phone" varchar(20) NOT NULL,
	"first_at" timestamp with time zone NOT NULL,
	"last_at" timestamp with time zone NOT NULL,
	CONSTRAINT "buyer_replies_sender_id_phone_pk" PRIMARY KEY("sender_id","phone")
);
--> statement-breakpoint
ALTER TABLE "alerts" DROP CONSTRAINT "alerts_kind_ck";--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "held_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "paired_me_id" varchar(100);--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "paired_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "warmup_days" integer DEFAULT 14 NOT NULL;--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "warmup_start" integer DEFAULT 20 NOT NULL;--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "warmup_growth_percent" integer DEFAULT 100 NOT NULL;--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "warmup_ended_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "unanswered_alert_threshold" integer DEFAULT 1000;--> statement-breakpoint
ALTER TABLE "buyer_replies" ADD CONSTRAINT "buyer_replies_sender_id_senders_id_fk" FOREIGN KEY ("sender_id") REFERENCES "public"."senders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "notifications_held_idx" ON "notifications" USING btree ("store_id","event_at") WHERE held_since is not null and status = 'scheduled';--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_kind_ck" CHECK (kind in ('kaspi_token_rejected', 'whatsapp_session_down', 'failure_rate', 'whatsapp_acks_stalled', 'whatsapp_unanswered'));--> statement-breakpoint
ALTER TABLE "senders" ADD CONSTRAINT "senders_warmup_ck" CHECK (warmup_days between 0 and 60 and warmup_start between 1 and 100000 and warmup_growth_percent between 0 and 400);--> statement-breakpoint
ALTER TABLE "senders" ADD CONSTRAINT "senders_unanswered_alert_ck" CHECK (unanswered_alert_threshold is null or unanswered_alert_threshold > 0);--> statement-breakpoint
-- Numbers connected before the warm-up existed are not new: their warm-up counts as ended.
UPDATE "senders" SET "warmup_ended_at" = now(), "paired_at" = "session_status_at" WHERE "session_status_at" IS NOT NULL;
