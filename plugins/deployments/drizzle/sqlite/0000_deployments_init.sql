CREATE TABLE `deployment_artifacts` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`model` text,
	`version` text,
	`file_name` text NOT NULL,
	`media_type` text NOT NULL,
	`bytes` integer NOT NULL,
	`sha256` text NOT NULL,
	`detail` text NOT NULL,
	`actor` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deployment_artifacts_kind` ON `deployment_artifacts` (`kind`,`created_at`);--> statement-breakpoint
CREATE TABLE `deployment_history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`model` text NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`actor` text NOT NULL,
	`version` text,
	`detail` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deployment_history_model` ON `deployment_history` (`model`,`id`);--> statement-breakpoint
CREATE TABLE `deployment_versions` (
	`model` text NOT NULL,
	`version` text NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`promoted_at` integer,
	`retired_at` integer,
	PRIMARY KEY(`model`, `version`)
);
--> statement-breakpoint
CREATE TABLE `deployments` (
	`model` text PRIMARY KEY NOT NULL,
	`live_version` text,
	`previous_version` text,
	`warm_until` integer,
	`canary_version` text,
	`canary_traffic` integer,
	`baseline` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `deployment_promotions` (
	`id` text PRIMARY KEY NOT NULL,
	`model` text NOT NULL,
	`version` text NOT NULL,
	`from_version` text,
	`traffic` integer,
	`comment` text NOT NULL,
	`requested_by` text NOT NULL,
	`gate_id` text NOT NULL,
	`status` text NOT NULL,
	`decided_by` text,
	`note` text,
	`report_id` text,
	`requested_at` integer NOT NULL,
	`decided_at` integer
);
--> statement-breakpoint
CREATE INDEX `deployment_promotions_model` ON `deployment_promotions` (`model`,`requested_at`);--> statement-breakpoint
CREATE INDEX `deployment_promotions_status` ON `deployment_promotions` (`status`);--> statement-breakpoint
CREATE TABLE `deployment_shadow_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`model` text NOT NULL,
	`champion` text NOT NULL,
	`challenger` text NOT NULL,
	`sample_rate` real NOT NULL,
	`actor` text NOT NULL,
	`started_at` integer NOT NULL,
	`stopped_at` integer,
	`counts` text
);
--> statement-breakpoint
CREATE INDEX `deployment_shadow_runs_model` ON `deployment_shadow_runs` (`model`,`started_at`);--> statement-breakpoint
CREATE TABLE `deployment_shadow_samples` (
	`shadow_id` text NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	`champion_ms` real NOT NULL,
	`challenger_ms` real NOT NULL,
	`champion_tokens` integer,
	`challenger_tokens` integer,
	`champion_error` integer NOT NULL,
	`challenger_error` integer NOT NULL,
	`exact` integer NOT NULL,
	`normalized` integer NOT NULL,
	`cosine` real,
	PRIMARY KEY(`shadow_id`, `seq`)
);
