DROP INDEX "batch_items_status";--> statement-breakpoint
CREATE INDEX "batch_items_status" ON "batch_items" USING btree ("run_id","status","line");