ALTER TABLE `instances_definitions` ADD `origin` text DEFAULT 'api' NOT NULL;--> statement-breakpoint
ALTER TABLE `instances_definitions` ADD `declaration` text;--> statement-breakpoint
ALTER TABLE `instances_definitions` ADD `desired_state` text DEFAULT 'stopped' NOT NULL;