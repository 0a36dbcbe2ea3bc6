DROP INDEX "notifications_store_created_idx";--> statement-breakpoint
DROP INDEX "notifications_store_status_created_idx";--> statement-breakpoint
CREATE INDEX "notifications_store_created_idx" ON "notifications" USING btree ("store_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "notifications_store_status_created_idx" ON "notifications" USING btree ("store_id","status","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);