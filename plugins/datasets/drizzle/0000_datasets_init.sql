CREATE TABLE `dataset_profiles` (
	`sha256` text NOT NULL,
	`sample_rows` integer NOT NULL,
	`profile` text NOT NULL,
	`duration_ms` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`sha256`, `sample_rows`)
);
--> statement-breakpoint
CREATE TABLE `datasets` (
	`name` text PRIMARY KEY NOT NULL,
	`format` text NOT NULL,
	`source` text NOT NULL,
	`path` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`rows` integer NOT NULL,
	`columns` text NOT NULL,
	`sha256` text NOT NULL,
	`mtime_ms` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
