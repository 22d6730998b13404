ALTER TABLE "cache_queue" ADD COLUMN "claimed_by" text;--> statement-breakpoint
ALTER TABLE "cache_queue" ADD COLUMN "claim_expires_at" timestamp (3) with time zone;