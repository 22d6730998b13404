/** TypeBox schemas of the instances API: request bodies and the responses that /openapi.json documents. */
import { QueryLimit, Nullable, t } from "gantry/plugin";
import { Aliases, ModelId } from "./model-names.ts";
import { MEMORY_PATTERN } from "./devices.ts";

/** An instance's name is the model id clients send (`qwen2.5:7b`, `Qwen/Qwen2.5-7B-Instruct`). */
export const Name = t.Object({ name: ModelId });
const Backend = t.Union([t.Literal("llama_cpp"), t.Literal("vllm"), t.Literal("mlx_lm"), t.Literal("command")]);
const Restart = t.Union([t.Literal("always"), t.Literal("on-failure"), t.Literal("never")]);
const Status = t.Union([t.Literal("stopped"), t.Literal("starting"), t.Literal("running"), t.Literal("stopping"), t.Literal("failed"), t.Literal("unreachable")], {
  description: "unreachable: cluster mode, the node that runs it is down",
});
const Timestamp = t.String({ description: "ISO 8601" });

/** The fields of an instance a client sets (create: all but those optional; update: any). */
export const Fields = {
  backend: t.Optional(Backend),
  model_path: t.String({ minLength: 1, maxLength: 4096 }),
  port: t.Optional(t.Integer({ minimum: 1024, maximum: 65535 })),
  options: t.Optional(t.Record(t.String(), t.Unknown())),
  env: t.Optional(t.Record(t.String(), t.String())),
  command: t.Optional(t.Array(t.String({ maxLength: 4096 }), { maxItems: 256 })),
  on_demand_start: t.Optional(t.Boolean()),
  idle_timeout: t.Optional(t.Integer({ minimum: 0, description: "seconds without requests before the instance is stopped; 0 = never" })),
  restart: t.Optional(Restart),
  aliases: t.Optional(Aliases),
  unlisted: t.Optional(t.Boolean({ description: "leave out of /v1/models and /api/tags (still served)" })),
  device: t.Optional(Nullable(t.String({ pattern: "^[A-Za-z0-9_-]{1,32}$", description: "the device it loads onto (gpu0, gpu1, cpu); with memory unset, gpu0 when known, else cpu" }))),
  memory: t.Optional(Nullable(t.Union([t.String({ pattern: MEMORY_PATTERN, maxLength: 32 }), t.Integer({ minimum: 0, maximum: 16_777_216 })], { description: "memory it needs on its device: \"8GiB\", \"512MiB\" or MiB; null = estimated from the model file (docs/instances.md)" }))),
  pinned: t.Optional(t.Boolean({ description: "never evicted to make room, never stopped for idleness" })),
  group: t.Optional(Nullable(t.String({ pattern: "^[A-Za-z0-9_.:-]{1,64}$", description: "a group of plugin.instances.groups (swap, exclusive, persistent rules)" }))),
  parallel: t.Optional(t.Integer({ minimum: 0, maximum: 4096, description: "requests served at once; more wait in the queue; 0 = no limit" })),
  max_queue: t.Optional(t.Integer({ minimum: 0, maximum: 100_000, description: "requests waiting beyond parallel; past it 503 with Retry-After; 0 = no limit" })),
};

/** POST .../{name}/load: how long the model stays loaded, as Ollama's keep_alive. */
export const LoadBody = t.Optional(t.Object({
  keep_alive: t.Optional(t.Union([t.Number(), t.String({ maxLength: 64 })], { description: "seconds or a duration (\"5m\"); negative = until stopped; default: idle_timeout" })),
}));

export const StopBody = t.Optional(t.Object({
  force: t.Optional(t.Boolean()),
  timeout: t.Optional(t.Number({ minimum: 0, maximum: 600, description: "seconds between SIGTERM and SIGKILL" })),
}));

const instanceProperties = {
  name: t.String(), status: Status, backend: Backend, model_path: t.String(), port: t.Integer(),
  pid: t.Union([t.Integer(), t.Null()]),
  options: t.Record(t.String(), t.Unknown()),
  env: t.Record(t.String(), t.String(), { description: "names only: every value shows as [set]" }),
  command: t.Union([t.Array(t.String()), t.Null()]),
  on_demand_start: t.Boolean(), idle_timeout: t.Integer(), restart: Restart,
  aliases: t.Array(t.String()), unlisted: t.Boolean(),
  device: Nullable(t.String()), memory_mib: Nullable(t.Integer({ description: "declared; null = estimated (see GET /api/v1/system/devices)" })),
  pinned: t.Boolean(), group: Nullable(t.String()), parallel: t.Integer(), max_queue: t.Integer(),
  requests: t.Object({ in_flight: t.Integer(), queued: t.Integer(), waiting_for_start: t.Integer() }),
  keep_alive_s: Nullable(t.Number({ description: "the last request's keep_alive in seconds (-1 = forever); null = idle_timeout applies" })),
  origin: t.Union([t.Literal("api"), t.Literal("declared")], { description: "declared: from [models.<name>] in gantry.toml (change it there); api: created through the API" }),
  declaration: Nullable(t.Record(t.String(), t.Unknown(), { description: "the [models.<name>] table last applied (placement fields included; env left out)" })),
  config_differs: t.Array(t.String(), { description: "declared fields this running instance lacks, applied when it stops; `removed`: its table is gone and it is removed when it stops" }),
  desired_state: t.Union([t.Literal("running"), t.Literal("stopped")], { description: "what was last asked for; `running` ones are started again at the next gantry start (restore)" }),
  restarts: t.Integer({ description: "restarts since the last start by request" }),
  last_error: Nullable(t.String()),
  node: t.Union([t.String(), t.Null()], { description: "cluster mode: id of the node that supervises it (GET /api/v1/nodes); null on a single node" }),
  stats: t.Object({
    memory_usage: t.Number({ description: "resident bytes of the server's process group" }),
    cpu_usage: t.Number({ description: "% of one core since the previous reading" }),
    cpu_seconds: t.Number(), processes: t.Integer(), uptime: t.Number({ description: "seconds running" }),
  }),
  created_at: Timestamp, updated_at: Timestamp,
};

export const Instance = t.Object(instanceProperties);
export const InstanceWithMessage = t.Object({ message: t.String(), ...instanceProperties });
export const Message = t.Object({ message: t.String() });

export const Health = t.Object({
  name: t.String(),
  status: t.Union([t.Literal("healthy"), t.Literal("loading"), t.Literal("unhealthy"), t.Literal("stopped")], { description: "loading: the server answers 503 while it loads the model (llama.cpp)" }),
  checks: t.Object({
    process: t.Union([t.Literal("running"), t.Literal("stopped")]),
    port: t.Union([t.Literal("open"), t.Literal("closed")]),
    response: t.Union([t.Literal("ok"), t.Literal("loading"), t.Literal("error"), t.Literal("none")]),
  }),
  last_check: Nullable(Timestamp),
  consecutive_failures: t.Integer(),
  instance_status: Status,
});

export const LogLines = t.Object({
  logs: t.Array(t.Object({
    timestamp: Timestamp,
    level: t.Union([t.Literal("debug"), t.Literal("info"), t.Literal("warn"), t.Literal("error")]),
    message: t.String(),
    stream: t.Union([t.Literal("stdout"), t.Literal("stderr")]),
  })),
});

export const LogsQuery = t.Object({
  lines: QueryLimit(10_000, "default 100"),
  level: t.Optional(t.Union([t.Literal("debug"), t.Literal("info"), t.Literal("warn"), t.Literal("error")], { description: "this level and more severe" })),
  stream: t.Optional(t.Union([t.Literal("stdout"), t.Literal("stderr")])),
  follow: t.Optional(t.BooleanString({ description: "stream new lines (text/event-stream) until the client leaves" })),
});

export const StartAll = t.Object({ started: t.Array(t.String()), failed: t.Record(t.String(), t.String(), { description: "name → why it did not start" }) });
export const StopAll = t.Object({ stopped: t.Array(t.String()) });

export const SystemInfo = t.Object({
  hostname: t.String(), os: t.String(), arch: t.String({ description: "Go's name, as llamactl reports it" }), cpu_count: t.Integer(),
  memory_total: t.Number(), version: t.String(), build_time: t.Null({ description: "null: gantry ships as source" }), started_at: Timestamp, runtime: t.String(),
});

export const Model = t.Object({
  id: t.String({ description: "the instance's name or one of its aliases" }), object: t.Literal("model"), created: t.Integer(), owned_by: t.String(), status: Status,
  instance: t.String({ description: "the instance that serves this id" }),
});
export const Models = t.Object({ object: t.Literal("list"), data: t.Array(Model) });

const Resident = t.Object({
  name: t.String(), status: Status, memory_mib: t.Integer(), estimated: t.Boolean({ description: "estimated from the model file: the instance declares no memory" }),
  pinned: t.Boolean(), group: Nullable(t.String()), in_flight: t.Integer(), queued: t.Integer(), waiting_for_start: t.Integer(), last_used_at: Nullable(Timestamp),
});

export const Devices = t.Object({
  devices: t.Array(t.Object({
    name: t.String(), source: t.Union([t.Literal("config"), t.Literal("nvidia-smi"), t.Literal("host")]), product: Nullable(t.String()),
    memory_total_mib: t.Integer({ description: "the budget instances are placed into" }),
    memory_used_mib: t.Integer({ description: "what its starting, running and stopping instances take (declared or estimated)" }),
    memory_free_mib: t.Integer(),
    reported_used_mib: Nullable(t.Integer({ description: "nvidia-smi's memory.used when gantry read it (every process on the GPU)" })),
    residents: t.Array(Resident),
  })),
});
