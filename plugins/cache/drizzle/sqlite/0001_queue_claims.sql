ALTER TABLE `cache_queue` ADD `claimed_by` text;--> statement-breakpoint
ALTER TABLE `cache_queue` ADD `claim_expires_at` integer;