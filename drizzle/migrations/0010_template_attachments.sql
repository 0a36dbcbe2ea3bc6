CREATE TABLE "template_attachments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"template_id" uuid NOT NULL,
	"kind" varchar(10) NOT NULL,
	"mimetype" varchar(100) NOT NULL,
	"filename" varchar(255) NOT NULL,
	"size_bytes" integer NOT NULL,
	"sha256" varchar(64) NOT NULL,
	"content" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "template_attachments_kind_ck" CHECK (kind in ('image', 'document')),
	CONSTRAINT "template_attachments_size_ck" CHECK (size_bytes between 1 and 10485760 and octet_length(content) = size_bytes)
);
--> statement-breakpoint
ALTER TABLE "message_attempts" ADD COLUMN "attachment_id" uuid;--> statement-breakpoint
ALTER TABLE "message_attempts" ADD COLUMN "attachment_kind" varchar(10);--> statement-breakpoint
ALTER TABLE "message_attempts" ADD COLUMN "attachment_filename" varchar(255);--> statement-breakpoint
ALTER TABLE "message_attempts" ADD COLUMN "attachment_size" integer;--> statement-breakpoint
ALTER TABLE "message_attempts" ADD COLUMN "attachment_sha256" varchar(64);--> statement-breakpoint
ALTER TABLE "message_attempts" ADD COLUMN "attachment_fallback" varchar(40);--> statement-breakpoint
ALTER TABLE "template_attachments" ADD CONSTRAINT "template_attachments_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "template_attachments_template_uq" ON "template_attachments" USING btree ("template_id");