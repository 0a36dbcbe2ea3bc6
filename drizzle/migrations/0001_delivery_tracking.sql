CREATE TABLE "phone_checks" (
	"sender_id" uuid NOT NULL,
	"phone" varchar(20) NOT NULL,
	"number_exists" boolean NOT NULL,
	"chat_id" varchar(100),
	"checked_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "phone_checks_sender_id_phone_pk" PRIMARY KEY("sender_id","phone")
);
--> statement-breakpoint
ALTER TABLE "message_attempts" ADD COLUMN "last_ack" integer;--> statement-breakpoint
ALTER TABLE "phone_checks" ADD CONSTRAINT "phone_checks_sender_id_senders_id_fk" FOREIGN KEY ("sender_id") REFERENCES "public"."senders"("id") ON DELETE cascade ON UPDATE no action;