ALTER TABLE "instances_definitions" ADD COLUMN "device" text;--> statement-breakpoint
ALTER TABLE "instances_definitions" ADD COLUMN "memory_mib" bigint;--> statement-breakpoint
ALTER TABLE "instances_definitions" ADD COLUMN "pinned" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "instances_definitions" ADD COLUMN "group_name" text;--> statement-breakpoint
ALTER TABLE "instances_definitions" ADD COLUMN "parallel" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "instances_definitions" ADD COLUMN "max_queue" bigint DEFAULT 0 NOT NULL;