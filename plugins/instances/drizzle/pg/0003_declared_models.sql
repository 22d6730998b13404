ALTER TABLE "instances_definitions" ADD COLUMN "origin" text DEFAULT 'api' NOT NULL;--> statement-breakpoint
ALTER TABLE "instances_definitions" ADD COLUMN "declaration" jsonb;--> statement-breakpoint
ALTER TABLE "instances_definitions" ADD COLUMN "desired_state" text DEFAULT 'stopped' NOT NULL;