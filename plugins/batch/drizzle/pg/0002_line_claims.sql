ALTER TABLE "batch_items" ADD COLUMN "claimed_by" text;--> statement-breakpoint
ALTER TABLE "batch_items" ADD COLUMN "claim_expires_at" timestamp (3) with time zone;