CREATE TABLE "buyer_lids" (
	"sender_id" uuid NOT NULL,
	"lid" varchar(64) NOT NULL,
	"phone" varchar(20) NOT NULL,
	"source" varchar(20) NOT NULL,
	"learned_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "buyer_lids_sender_id_lid_pk" PRIMARY KEY("sender_id","lid")
);
--> statement-breakpoint
CREATE TABLE "unmapped_opt_outs" (
	"store_id" uuid NOT NULL,
	"lid" varchar(64) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"matched_phone" varchar(20),
	"matched_at" timestamp with time zone,
	CONSTRAINT "unmapped_opt_outs_store_id_lid_pk" PRIMARY KEY("store_id","lid")
);
--> statement-breakpoint
ALTER TABLE "alerts" DROP CONSTRAINT "alerts_kind_ck";--> statement-breakpoint
ALTER TABLE "message_attempts" ADD COLUMN "confirmed_by" varchar(20);--> statement-breakpoint
ALTER TABLE "message_attempts" ADD COLUMN "ack_checked_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "opt_outs" ADD COLUMN "matched_by" varchar(20);--> statement-breakpoint
ALTER TABLE "opt_outs" ADD COLUMN "lid" varchar(64);--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "acks_stalled_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "session_health" jsonb;--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "session_health_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "buyer_lids" ADD CONSTRAINT "buyer_lids_sender_id_senders_id_fk" FOREIGN KEY ("sender_id") REFERENCES "public"."senders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "unmapped_opt_outs" ADD CONSTRAINT "unmapped_opt_outs_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "buyer_lids_phone_idx" ON "buyer_lids" USING btree ("sender_id","phone");--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_kind_ck" CHECK (kind in ('kaspi_token_rejected', 'whatsapp_session_down', 'failure_rate', 'whatsapp_acks_stalled'));