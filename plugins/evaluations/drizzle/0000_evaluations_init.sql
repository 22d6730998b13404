CREATE TABLE `evaluation_rows` (
	`evaluation_id` text NOT NULL,
	`row` integer NOT NULL,
	`input` text NOT NULL,
	`expected` text,
	`status` text NOT NULL,
	`output` text,
	`error` text,
	`latency_ms` real,
	`prompt_tokens` integer,
	`completion_tokens` integer,
	`scores` text,
	`notes` text,
	`finished_at` integer,
	PRIMARY KEY(`evaluation_id`, `row`)
);
--> statement-breakpoint
CREATE INDEX `evaluation_rows_status` ON `evaluation_rows` (`evaluation_id`,`status`);--> statement-breakpoint
CREATE TABLE `evaluations` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text,
	`model` text NOT NULL,
	`dataset` text NOT NULL,
	`dataset_sha256` text NOT NULL,
	`spec` text NOT NULL,
	`status` text NOT NULL,
	`actor` text NOT NULL,
	`total` integer NOT NULL,
	`summary` text,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `evaluations_created` ON `evaluations` (`created_at`);