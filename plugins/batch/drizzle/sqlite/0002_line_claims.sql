ALTER TABLE `batch_items` ADD `claimed_by` text;--> statement-breakpoint
ALTER TABLE `batch_items` ADD `claim_expires_at` integer;