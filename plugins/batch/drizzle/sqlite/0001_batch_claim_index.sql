DROP INDEX `batch_items_status`;--> statement-breakpoint
CREATE INDEX `batch_items_status` ON `batch_items` (`run_id`,`status`,`line`);