CREATE TABLE `cluster_leases` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`generation` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `cluster_messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`payload` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `cluster_messages_created` ON `cluster_messages` (`created_at`);--> statement-breakpoint
CREATE TABLE `cluster_nodes` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`url` text NOT NULL,
	`version` text NOT NULL,
	`started_at` integer NOT NULL,
	`last_heartbeat` integer NOT NULL,
	`labels` text NOT NULL,
	`resources` text NOT NULL,
	`down_since` integer
);
--> statement-breakpoint
CREATE TABLE `cluster_plugin_status` (
	`plugin` text NOT NULL,
	`node` text NOT NULL,
	`action` text NOT NULL,
	`ok` integer NOT NULL,
	`error` text,
	`at` integer NOT NULL,
	PRIMARY KEY(`plugin`, `node`)
);
--> statement-breakpoint
CREATE TABLE `cluster_rate_counts` (
	`id` text NOT NULL,
	`window_start` integer NOT NULL,
	`node` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`id`, `window_start`, `node`)
);
--> statement-breakpoint
CREATE INDEX `cluster_rate_counts_window` ON `cluster_rate_counts` (`window_start`);--> statement-breakpoint
CREATE TABLE `oidc_pending` (
	`state` text PRIMARY KEY NOT NULL,
	`nonce` text NOT NULL,
	`verifier` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `oidc_pending_created` ON `oidc_pending` (`created_at`);