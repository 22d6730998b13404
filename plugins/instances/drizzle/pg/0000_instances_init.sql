CREATE TABLE "instances_definitions" (
	"name" text PRIMARY KEY NOT NULL,
	"backend" text NOT NULL,
	"model_path" text NOT NULL,
	"port" bigint NOT NULL,
	"options" jsonb NOT NULL,
	"env" jsonb NOT NULL,
	"command" jsonb,
	"on_demand_start" boolean DEFAULT false NOT NULL,
	"idle_timeout" bigint DEFAULT 0 NOT NULL,
	"restart" text DEFAULT 'on-failure' NOT NULL,
	"last_pid" bigint,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "instances_definitions_port_unique" UNIQUE("port")
);
