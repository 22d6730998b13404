CREATE TABLE `instances_definitions` (
	`name` text PRIMARY KEY NOT NULL,
	`backend` text NOT NULL,
	`model_path` text NOT NULL,
	`port` integer NOT NULL,
	`options` text NOT NULL,
	`env` text NOT NULL,
	`command` text,
	`on_demand_start` integer DEFAULT false NOT NULL,
	`idle_timeout` integer DEFAULT 0 NOT NULL,
	`restart` text DEFAULT 'on-failure' NOT NULL,
	`last_pid` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `instances_definitions_port_unique` ON `instances_definitions` (`port`);