/** gantry's configuration: defaults < gantry.toml < GANTRY_* environment, validated with TypeBox. */
import { parse as parseToml } from "smol-toml";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { Value, ValueErrorType } from "@sinclair/typebox/value";
import { Errors } from "./errors.ts";
import { isSecretName, REDACTED, redactText } from "./redact.ts";
import { installRoot } from "../runtime/install-root.ts";
import { parseAllowEntry } from "./outbound-guard.ts";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The folder gantry is installed in (holds the built-in plugins and migrations). */
export const GANTRY_ROOT = installRoot();

const LogLevelSchema = Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)));

export const ConfigSchema = Type.Object(
  {
    data_dir: Type.String({ default: "./data", minLength: 1, description: "Folder for the SQLite database and plugin data" }),
    server: Type.Object(
      {
        host: Type.String({ default: "127.0.0.1", minLength: 1 }),
        port: Type.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
        body_limit_bytes: Type.Integer({ default: 1_048_576, minimum: 1024, description: "Largest accepted request body" }),
        header_limit_bytes: Type.Integer({ default: 16_384, minimum: 1024, description: "Largest accepted request URL plus headers (431 beyond)" }),
        max_json_depth: Type.Integer({ default: 64, minimum: 2, maximum: 1000, description: "Deepest nesting of arrays and objects accepted in a JSON body (400 beyond)" }),
        shutdown_timeout_ms: Type.Integer({ default: 10_000, minimum: 0, description: "How long shutdown waits for in-flight requests" }),
        cors: Type.Object(
          {
            origins: Type.Array(Type.String({ minLength: 1 }), { default: [], description: "Origins browsers may call from (\"*\" for any); empty: CORS off" }),
            methods: Type.Array(Type.String(), { default: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] }),
            headers: Type.Array(Type.String(), { default: ["*"], description: "Request headers allowed; \"*\" allows what the preflight asks for" }),
            expose_headers: Type.Array(Type.String(), { default: ["x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] }),
            allow_credentials: Type.Boolean({ default: false, description: "Allow cookies and Authorization from browsers (the origin is echoed, never \"*\")" }),
            max_age_s: Type.Integer({ default: 600, minimum: 0, description: "How long a browser may cache a preflight answer" }),
          },
          { default: {}, additionalProperties: false },
        ),
        public_docs: Type.Boolean({ default: false, description: "Serve /docs, /redoc and /openapi.json without a credential (default: viewer)" }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union([LogLevelSchema], { default: "info" }),
        format: Type.Union([Type.Literal("auto"), Type.Literal("json"), Type.Literal("pretty")], { default: "auto" }),
        requests: Type.Boolean({ default: true, description: "Log one line per HTTP request" }),
        quiet_paths: Type.Array(Type.String(), { default: ["/healthz", "/livez", "/metrics"], description: "Successful requests to these paths are logged at debug, not info" }),
      },
      { default: {}, additionalProperties: false },
    ),
    plugins: Type.Object(
      {
        dir: Type.String({ default: resolve(GANTRY_ROOT, "plugins"), description: "Folder of built-in plugins" }),
        disabled: Type.Array(Type.String(), { default: [], description: "Built-in plugins not to load" }),
        setup_timeout_ms: Type.Integer({ default: 15_000, minimum: 1 }),
        dispose_timeout_ms: Type.Integer({ default: 5_000, minimum: 1 }),
      },
      { default: {}, additionalProperties: false },
    ),
    database: Type.Object(
      {
        url: Type.String({ default: "", description: "Empty: SQLite in <data_dir>/gantry.db. postgres://user:password@host:5432/db: PostgreSQL (password redacted in /config)" }),
        schema: Type.String({ default: "public", minLength: 1, maxLength: 63, description: "PostgreSQL schema for gantry's tables (created when missing)" }),
        pool_size: Type.Integer({ default: 10, minimum: 1, maximum: 1000, description: "PostgreSQL connections gantry keeps open at most" }),
      },
      { default: {}, additionalProperties: false },
    ),
    cluster: Type.Object(
      {
        enabled: Type.Boolean({ default: false, description: "Join the cluster of gantry nodes that share this PostgreSQL database (needs database.url; ignored on SQLite, which is always one node)" }),
        node_name: Type.String({ default: "", maxLength: 200, description: "This node's name in GET /api/v1/nodes; the host name when empty" }),
        advertised_url: Type.String({ default: "", maxLength: 2000, description: "Base URL other nodes reach this node at; the listening address when empty" }),
        labels: Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 200 }), { default: {}, description: "Labels of this node (gpu = \"h100\", zone = \"a\"), listed in GET /api/v1/nodes" }),
        heartbeat_interval_s: Type.Number({ default: 2, minimum: 0.1, maximum: 60, description: "How often a node writes its heartbeat" }),
        node_timeout_s: Type.Number({ default: 10, minimum: 0.5, maximum: 3600, description: "A node without a heartbeat for this long is down" }),
        lease_s: Type.Number({ default: 6, minimum: 0.5, maximum: 600, description: "Leadership lease: the leader renews it every lease_s / 3; another node takes over within lease_s + lease_s / 3 after the leader dies" }),
      },
      { default: {}, additionalProperties: false },
    ),
    health: Type.Object(
      {
        min_free_disk_bytes: Type.Integer({ default: 104_857_600, minimum: 0, description: "/livez fails when the data dir has less free space" }),
      },
      { default: {}, additionalProperties: false },
    ),
    auth: Type.Object(
      {
        bootstrap_admin_key: Type.String({ default: "", pattern: "^(gk_[a-z0-9]{10}_[A-Za-z0-9_-]{32,64})?$", description: "Admin API key to create on first start instead of a random one (secret): gk_<10 lowercase letters or digits>_<32-64 url-safe characters>" }),
        jwt_secret: Type.String({ default: "", description: "HS256 secret for access tokens (secret); generated and stored on first start when empty" }),
        internal_key: Type.String({ default: "", description: "Key for X-Internal-Auth on internal routes (secret); generated and stored on first start when empty" }),
        secret_key: Type.String({ default: "", description: "Key that seals secrets stored in the database (OIDC client secret, instance env values) (secret); <data_dir>/secret.key when empty" }),
        previous_secret_keys: Type.Array(Type.String(), { default: [], description: "Former secret_key values, still accepted to open stored secrets while they are sealed again (secret)" }),
        access_token_ttl_s: Type.Integer({ default: 900, minimum: 10, maximum: 86_400 }),
        refresh_token_ttl_s: Type.Integer({ default: 2_592_000, minimum: 60 }),
      },
      { default: {}, additionalProperties: false },
    ),
    outbound: Type.Object(
      {
        allow: Type.Array(Type.String({ minLength: 1 }), {
          default: [],
          description: "Non-public addresses gantry may fetch from (model pulls, WebFetch, MCP over HTTP, OIDC, cache renders): CIDRs (10.0.0.0/8), addresses (127.0.0.1), host names (mirror.lan, *.corp.example), each optionally with :port",
        }),
        max_redirects: Type.Integer({ default: 5, minimum: 0, maximum: 20, description: "Redirects an outbound fetch follows, each hop checked like the first" }),
      },
      { default: {}, additionalProperties: false },
    ),
    rate_limit: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        regular_per_minute: Type.Integer({ default: 100, minimum: 1 }),
        expensive_per_minute: Type.Integer({ default: 10, minimum: 1 }),
        login_per_minute: Type.Integer({ default: 5, minimum: 1, description: "Login attempts per client address and minute" }),
        exempt_paths: Type.Array(Type.String(), { default: ["/healthz", "/livez", "/metrics", "/docs", "/redoc", "/openapi.json"] }),
      },
      { default: {}, additionalProperties: false },
    ),
    pipelines: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()), {
      default: {},
      description: "Pipeline templates by name ([pipelines.<name>]): phases, needs, retry, gates (docs/pipelines.md)",
    }),
    models: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()), {
      default: {},
      description: "Declared models by name ([models.<name>]): instances the instances plugin reconciles at start and config reload (docs/instances.md)",
    }),
    plugin: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()), {
      default: {},
      description: "Per-plugin settings, merged over each manifest's `config`",
    }),
  },
  { additionalProperties: false },
);

export type GantryConfig = Static<typeof ConfigSchema>;

/** Fixed environment names, and the dotted key each sets. */
const FIXED_ENV: Record<string, string> = {
  GANTRY_HOST: "server.host",
  GANTRY_PORT: "server.port",
  GANTRY_DATA_DIR: "data_dir",
  GANTRY_LOG_LEVEL: "log.level",
};
/** Environment names that are not config keys. */
const NON_KEY_ENV = new Set(["GANTRY_CONFIG", "GANTRY_ADMIN_PASSWORD", "GANTRY_TEST_PG_URL"]);

export interface ConfigSources {
  /** Path of gantry.toml; missing file is fine unless given explicitly. */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Values that win over everything (tests, CLI flags). */
  overrides?: Record<string, unknown>;
}

/** Loads, merges and validates the configuration; throws CONFIG_INVALID naming each bad key. */
export function loadConfig(sources: ConfigSources = {}): GantryConfig {
  const env = sources.env ?? process.env;
  const explicitFile = sources.file ?? env.GANTRY_CONFIG;
  const file = explicitFile ?? "gantry.toml";
  let merged: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      merged = parseToml(readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (error) {
      const problems = [`not valid TOML: ${(error as Error).message}`];
      throw Errors.CONFIG_INVALID([file, problems], { details: { problems } });
    }
  } else if (explicitFile) {
    throw Errors.CONFIG_INVALID([file, ["file not found"]], { details: { problems: ["file not found"] } });
  }
  for (const [key, value] of envEntries(env)) setDotted(merged, key, value);
  for (const [key, value] of Object.entries(sources.overrides ?? {})) setDotted(merged, key, value);
  return validateConfig(merged, existsSync(file) ? `${file} + environment` : "environment");
}

/** Applies defaults, coerces env strings, and lists every problem by dotted key. */
export function validateConfig(input: Record<string, unknown>, source: string): GantryConfig {
  const value = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, structuredClone(input)));
  const problems = [...Value.Errors(ConfigSchema, value)].map((e) => {
    const key = e.path.replace(/^\//, "").replaceAll("/", ".") || "(root)";
    if (e.type === ValueErrorType.ObjectAdditionalProperties) return `${key}: unknown key`;
    // The value shown back goes to stderr and to config-reload answers: a secret's never does.
    const name = key.split(".").findLast((part) => !/^\d+$/.test(part)) ?? key; // previous_secret_keys.0 is a secret too
    const got = isSecretName(name) ? REDACTED : redactText(JSON.stringify(e.value) ?? "undefined");
    return `${key}: ${describeExpected(e.schema) ?? e.message} (got ${got})`;
  });
  if (problems.length === 0) problems.push(...allowProblems((value as GantryConfig).outbound.allow));
  if (problems.length > 0) throw Errors.CONFIG_INVALID([source, dedupe(problems)], { details: { problems: dedupe(problems) } });
  return value as GantryConfig;
}

/** outbound.allow entries that are neither an address range nor a host name (with an optional port). */
function allowProblems(allow: string[]): string[] {
  return allow.flatMap((entry, i) => (parseAllowEntry(entry) ? [] : [`outbound.allow.${i}: must be a CIDR (10.0.0.0/8), an address (127.0.0.1, ::1) or a host name (mirror.lan, *.corp.example), each optionally with :port (got ${JSON.stringify(entry)})`]));
}

/** "must be one of a, b" for unions of literals, which TypeBox only calls "union value". */
function describeExpected(schema: TSchema): string | undefined {
  const options = (schema.anyOf as TSchema[] | undefined)?.flatMap((s) => (s.anyOf as TSchema[] | undefined) ?? [s]);
  if (!options?.every((s) => "const" in s)) return undefined;
  return `must be one of ${options.map((s) => s.const).join(", ")}`;
}

function envEntries(env: Record<string, string | undefined>): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith("GANTRY_") || NON_KEY_ENV.has(name)) continue;
    const key = FIXED_ENV[name] ?? name.slice("GANTRY_".length).toLowerCase().split("__").join(".");
    out.push([key, parseEnvValue(key, raw)]);
  }
  return out;
}

/** Arrays come as comma lists; everything else is coerced by the schema. */
function parseEnvValue(key: string, raw: string): unknown {
  let schema: TSchema | undefined = ConfigSchema;
  for (const part of key.split(".")) schema = (schema?.properties as Record<string, TSchema> | undefined)?.[part];
  if (schema?.type === "array" && !raw.trimStart().startsWith("[")) return raw.split(",").map((s) => s.trim()).filter(Boolean);
  // Keys without a schema (plugin.<name>.*) and JSON-looking values: read as JSON when it parses.
  if (schema === undefined || /^\s*[[{]/.test(raw)) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

/** Sets (or, with `undefined`, deletes) a dotted key, creating objects on the way. */
export function setDotted(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  if (value === undefined) delete node[parts.at(-1)!];
  else node[parts.at(-1)!] = value;
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}

export { isSecretName, redactSecrets } from "./redact.ts";

/** Value of a dotted key, or undefined. */
export function getDotted(config: unknown, dotted: string): unknown {
  let node: unknown = config;
  for (const part of dotted.split(".")) {
    if (!node || typeof node !== "object" || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

export type { TSchema };
