CREATE TABLE `pipeline_artifacts` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`phase` text NOT NULL,
	`name` text NOT NULL,
	`media_type` text NOT NULL,
	`size` integer NOT NULL,
	`sha256` text NOT NULL,
	`path` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `pipeline_artifacts_run` ON `pipeline_artifacts` (`run_id`);--> statement-breakpoint
CREATE TABLE `pipeline_phases` (
	`run_id` text NOT NULL,
	`name` text NOT NULL,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`output` text,
	`error` text,
	`agent` text,
	`gate_id` text,
	`started_at` integer,
	`finished_at` integer,
	PRIMARY KEY(`run_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `pipeline_run_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	`phase` text,
	`kind` text NOT NULL,
	`data` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `pipeline_run_events_seq` ON `pipeline_run_events` (`run_id`,`seq`);--> statement-breakpoint
CREATE TABLE `pipeline_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`template` text NOT NULL,
	`definition` text NOT NULL,
	`parent_run_id` text,
	`state` text NOT NULL,
	`inputs` text NOT NULL,
	`compliance` text NOT NULL,
	`actor` text NOT NULL,
	`error` text,
	`cancel_requested` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `pipeline_runs_state` ON `pipeline_runs` (`state`,`created_at`);--> statement-breakpoint
CREATE INDEX `pipeline_runs_template` ON `pipeline_runs` (`template`,`created_at`);