CREATE TABLE "deployment_artifacts" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"model" text,
	"version" text,
	"file_name" text NOT NULL,
	"media_type" text NOT NULL,
	"bytes" bigint NOT NULL,
	"sha256" text NOT NULL,
	"detail" jsonb NOT NULL,
	"actor" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "deployment_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"kind" text NOT NULL,
	"actor" text NOT NULL,
	"version" text,
	"detail" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "deployment_versions" (
	"model" text NOT NULL,
	"version" text NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"promoted_at" timestamp (3) with time zone,
	"retired_at" timestamp (3) with time zone,
	CONSTRAINT "deployment_versions_model_version_pk" PRIMARY KEY("model","version")
);
--> statement-breakpoint
CREATE TABLE "deployments" (
	"model" text PRIMARY KEY NOT NULL,
	"live_version" text,
	"previous_version" text,
	"warm_until" timestamp (3) with time zone,
	"canary_version" text,
	"canary_traffic" bigint,
	"baseline" jsonb,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "deployment_promotions" (
	"id" text PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"version" text NOT NULL,
	"from_version" text,
	"traffic" bigint,
	"comment" text NOT NULL,
	"requested_by" text NOT NULL,
	"gate_id" text NOT NULL,
	"status" text NOT NULL,
	"decided_by" text,
	"note" text,
	"report_id" text,
	"requested_at" timestamp (3) with time zone NOT NULL,
	"decided_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "deployment_shadow_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"champion" text NOT NULL,
	"challenger" text NOT NULL,
	"sample_rate" double precision NOT NULL,
	"actor" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"stopped_at" timestamp (3) with time zone,
	"counts" jsonb
);
--> statement-breakpoint
CREATE TABLE "deployment_shadow_samples" (
	"shadow_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"champion_ms" double precision NOT NULL,
	"challenger_ms" double precision NOT NULL,
	"champion_tokens" bigint,
	"challenger_tokens" bigint,
	"champion_error" boolean NOT NULL,
	"challenger_error" boolean NOT NULL,
	"exact" boolean NOT NULL,
	"normalized" boolean NOT NULL,
	"cosine" double precision,
	CONSTRAINT "deployment_shadow_samples_shadow_id_seq_pk" PRIMARY KEY("shadow_id","seq")
);
--> statement-breakpoint
CREATE INDEX "deployment_artifacts_kind" ON "deployment_artifacts" USING btree ("kind","created_at");--> statement-breakpoint
CREATE INDEX "deployment_history_model" ON "deployment_history" USING btree ("model","id");--> statement-breakpoint
CREATE INDEX "deployment_promotions_model" ON "deployment_promotions" USING btree ("model","requested_at");--> statement-breakpoint
CREATE INDEX "deployment_promotions_status" ON "deployment_promotions" USING btree ("status");--> statement-breakpoint
CREATE INDEX "deployment_shadow_runs_model" ON "deployment_shadow_runs" USING btree ("model","started_at");