CREATE TABLE "review_links" (
	"id" varchar(32) PRIMARY KEY NOT NULL,
	"notification_id" uuid NOT NULL,
	"store_id" uuid NOT NULL,
	"target_url" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"first_opened_at" timestamp with time zone,
	"last_opened_at" timestamp with time zone,
	"open_count" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "replied_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "opted_out_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "stores" ADD COLUMN "review_links_enabled" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "stores" ADD COLUMN "review_links_checked_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "review_links" ADD CONSTRAINT "review_links_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_links" ADD CONSTRAINT "review_links_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "review_links_notification_uq" ON "review_links" USING btree ("notification_id");--> statement-breakpoint
CREATE INDEX "message_attempts_phone_idx" ON "message_attempts" USING btree ("phone","started_at");--> statement-breakpoint
CREATE INDEX "notifications_store_sent_idx" ON "notifications" USING btree ("store_id","sent_at") WHERE sent_at is not null;