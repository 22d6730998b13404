ALTER TABLE `cron_runs` ADD `scheduled_at` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `cron_runs_tick` ON `cron_runs` (`job_id`,`scheduled_at`);