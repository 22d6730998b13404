ALTER TABLE `instances_definitions` ADD `aliases` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `instances_definitions` ADD `unlisted` integer DEFAULT false NOT NULL;