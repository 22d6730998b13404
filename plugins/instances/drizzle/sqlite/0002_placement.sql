ALTER TABLE `instances_definitions` ADD `device` text;--> statement-breakpoint
ALTER TABLE `instances_definitions` ADD `memory_mib` integer;--> statement-breakpoint
ALTER TABLE `instances_definitions` ADD `pinned` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `instances_definitions` ADD `group_name` text;--> statement-breakpoint
ALTER TABLE `instances_definitions` ADD `parallel` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `instances_definitions` ADD `max_queue` integer DEFAULT 0 NOT NULL;