CREATE TABLE "cluster_leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"generation" bigint NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cluster_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"payload" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cluster_nodes" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"url" text NOT NULL,
	"version" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"last_heartbeat" timestamp (3) with time zone NOT NULL,
	"labels" jsonb NOT NULL,
	"resources" jsonb NOT NULL,
	"down_since" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "cluster_plugin_status" (
	"plugin" text NOT NULL,
	"node" text NOT NULL,
	"action" text NOT NULL,
	"ok" boolean NOT NULL,
	"error" text,
	"at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "cluster_plugin_status_plugin_node_pk" PRIMARY KEY("plugin","node")
);
--> statement-breakpoint
CREATE TABLE "cluster_rate_counts" (
	"id" text NOT NULL,
	"window_start" bigint NOT NULL,
	"node" text NOT NULL,
	"count" bigint NOT NULL,
	CONSTRAINT "cluster_rate_counts_id_window_start_node_pk" PRIMARY KEY("id","window_start","node")
);
--> statement-breakpoint
CREATE TABLE "oidc_pending" (
	"state" text PRIMARY KEY NOT NULL,
	"nonce" text NOT NULL,
	"verifier" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "cluster_messages_created" ON "cluster_messages" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "cluster_rate_counts_window" ON "cluster_rate_counts" USING btree ("window_start");--> statement-breakpoint
CREATE INDEX "oidc_pending_created" ON "oidc_pending" USING btree ("created_at");