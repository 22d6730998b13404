CREATE TABLE `batch_items` (
	`run_id` text NOT NULL,
	`line` integer NOT NULL,
	`custom_id` text,
	`agent` text NOT NULL,
	`input` text NOT NULL,
	`status` text NOT NULL,
	`output` text,
	`error` text,
	`agent_run_id` text,
	`tool_calls` text,
	`finished_at` integer,
	PRIMARY KEY(`run_id`, `line`)
);
--> statement-breakpoint
CREATE INDEX `batch_items_status` ON `batch_items` (`run_id`,`status`);--> statement-breakpoint
CREATE TABLE `batch_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`actor` text NOT NULL,
	`total` integer NOT NULL,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
