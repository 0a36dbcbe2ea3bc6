CREATE TABLE "alerts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"store_id" uuid NOT NULL,
	"kind" varchar(40) NOT NULL,
	"message" text NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"opened_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	"notified_at" timestamp with time zone,
	"resolved_notified_at" timestamp with time zone,
	"last_delivery_error" text,
	CONSTRAINT "alerts_kind_ck" CHECK (kind in ('kaspi_token_rejected', 'whatsapp_session_down', 'failure_rate'))
);
--> statement-breakpoint
CREATE TABLE "store_alert_channels" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"store_id" uuid NOT NULL,
	"kind" varchar(20) NOT NULL,
	"telegram_bot_token_enc" text,
	"telegram_chat_id" varchar(100),
	"webhook_url_enc" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "store_alert_channels_kind_ck" CHECK (kind in ('telegram', 'webhook')),
	CONSTRAINT "store_alert_channels_target_ck" CHECK ((kind = 'telegram' and telegram_bot_token_enc is not null and telegram_chat_id is not null) or (kind = 'webhook' and webhook_url_enc is not null))
);
--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "store_alert_channels" ADD CONSTRAINT "store_alert_channels_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_open_uq" ON "alerts" USING btree ("store_id","kind") WHERE resolved_at is null;--> statement-breakpoint
CREATE INDEX "alerts_store_opened_idx" ON "alerts" USING btree ("store_id","opened_at");--> statement-breakpoint
CREATE INDEX "store_alert_channels_store_idx" ON "store_alert_channels" USING btree ("store_id");