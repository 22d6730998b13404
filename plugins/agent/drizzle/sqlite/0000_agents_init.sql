CREATE TABLE `agent_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`agent` text NOT NULL,
	`actor` text NOT NULL,
	`status` text NOT NULL,
	`input` text NOT NULL,
	`output` text,
	`error` text,
	`steps` text NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `agent_runs_agent` ON `agent_runs` (`agent`,`started_at`);--> statement-breakpoint
CREATE TABLE `agent_approvals` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`agent` text NOT NULL,
	`tool` text NOT NULL,
	`arguments` text NOT NULL,
	`rule` text,
	`status` text NOT NULL,
	`requested_at` integer NOT NULL,
	`decided_at` integer,
	`decided_by` text,
	`note` text
);
--> statement-breakpoint
CREATE INDEX `agent_approvals_status` ON `agent_approvals` (`status`,`requested_at`);--> statement-breakpoint
CREATE TABLE `agent_permission_denials` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`agent` text NOT NULL,
	`run_id` text NOT NULL,
	`tool` text NOT NULL,
	`source` text NOT NULL,
	`rule` text,
	`reason` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `agent_denials_at` ON `agent_permission_denials` (`at`);