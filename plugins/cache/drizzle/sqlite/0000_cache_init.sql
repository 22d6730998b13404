CREATE TABLE `cache_entries` (
	`host_id` integer NOT NULL,
	`url` text NOT NULL,
	`dimension_id` integer NOT NULL,
	`file` text NOT NULL,
	`status` integer NOT NULL,
	`bytes` integer NOT NULL,
	`render_ms` integer NOT NULL,
	`rendered_at` integer NOT NULL,
	PRIMARY KEY(`host_id`, `url`, `dimension_id`)
);
--> statement-breakpoint
CREATE TABLE `cache_queue` (
	`host_id` integer NOT NULL,
	`priority` text NOT NULL,
	`url` text NOT NULL,
	`dimension_id` integer NOT NULL,
	`due_at` integer NOT NULL,
	PRIMARY KEY(`host_id`, `priority`, `url`, `dimension_id`)
);
--> statement-breakpoint
CREATE INDEX `cache_queue_due` ON `cache_queue` (`priority`,`due_at`);