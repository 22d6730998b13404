CREATE TABLE `cron_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`schedule` text NOT NULL,
	`timezone` text,
	`command` text NOT NULL,
	`description` text,
	`enabled` integer DEFAULT true NOT NULL,
	`timeout_s` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `cron_jobs_name_unique` ON `cron_jobs` (`name`);--> statement-breakpoint
CREATE TABLE `cron_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_id` text NOT NULL,
	`trigger` text NOT NULL,
	`actor` text NOT NULL,
	`status` text NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`duration_ms` integer,
	`result` text,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `cron_runs_job` ON `cron_runs` (`job_id`,`id`);