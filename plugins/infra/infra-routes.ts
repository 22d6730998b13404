/** The infra API under /api/v1/infra, plus gantry-style copies of the operations views. */
import {
  createError, defineErrors, t, taskHealth,
  type CoreCacheService, type CoreConfigService, type CoreInfoService, type CoreLoggersService, type CoreTasksService, type RolesApp,
} from "gantry/plugin";
import { redactedEnvironment } from "./environment.ts";
import { parseLevel, VALID_LEVEL_NAMES } from "./levels.ts";
import { invalidLevelMessage, isTaskLevel, listTasks, TaskFilterQuery, TaskSnapshot, TaskSummary, UnhealthyTask } from "./tasks-view.ts";

export const InfraErrors = defineErrors("infra", {
  CONFIG_KEY_NOT_FOUND: createError("CONFIG_KEY_NOT_FOUND", 404, (key: string) => `Config key not found: ${key}`),
  INVALID_LOG_LEVEL: createError("INVALID_LOG_LEVEL", 400, (level: string) => `Invalid log level: ${level}. Valid values: ${VALID_LEVEL_NAMES}`),
  LOGGER_NOT_FOUND: createError("LOGGER_NOT_FOUND", 404, (name: string) => `Logger not found: ${name}`),
  TASK_NOT_FOUND: createError("TASK_NOT_FOUND", 404, (name: string) => `Periodic task not found: ${name}`),
  INVALID_TASK_LEVEL: createError("INVALID_TASK_LEVEL", 400, (level: string) => invalidLevelMessage(level)),
});

export interface InfraServices {
  config: CoreConfigService;
  info: CoreInfoService;
  cache: CoreCacheService;
  loggers: CoreLoggersService;
  tasks: CoreTasksService;
}

const Ok = t.Literal(true);
const LevelBody = t.Object({ level: t.String({ minLength: 1, maxLength: 32, description: "trace, debug, info, warn (warning), error, fatal (critical), silent" }) });

function requireLevel(name: string) {
  const level = parseLevel(name);
  if (!level) throw InfraErrors.INVALID_LOG_LEVEL([name]);
  return level;
}

export function infraRoutes(s: InfraServices) {
  return (app: RolesApp) =>
    app
      .post("/cache-invalidate", () => {
        const keys = s.cache.invalidateAll();
        return { ok: true as const, detail: `${keys.length} cached values invalidated`, cache_keys: keys };
      }, {
        role: "admin",
        response: t.Object({ ok: Ok, detail: t.String(), cache_keys: t.Array(t.String()) }),
        detail: { summary: "Invalidate every hot-path cached value that gantry and its plugins keep" },
      })
      .get("/config", () => ({ ok: true as const, data: s.config.redacted() }), {
        role: "admin",
        response: t.Object({ ok: Ok, data: t.Record(t.String(), t.Unknown()) }),
        detail: { summary: "The merged running configuration, secrets redacted" },
      })
      .get("/config/:key", ({ params }) => {
        const value = s.config.get(params.key);
        if (value === undefined) throw InfraErrors.CONFIG_KEY_NOT_FOUND([params.key]);
        return { ok: true as const, key: params.key, value };
      }, {
        role: "admin",
        params: t.Object({ key: t.String({ maxLength: 200, description: "dotted key, e.g. server.port" }) }),
        response: t.Object({ ok: Ok, key: t.String(), value: t.Unknown() }),
        detail: { summary: "One configuration value by dotted key; 404 when the key does not exist" },
      })
      .post("/config/reload", () => {
        const result = s.config.reload();
        return {
          ok: true as const, data: result.config, changed: result.changed, applied: result.applied,
          restart_required: result.restart_required, plugin_reload_required: result.plugin_reload_required,
        };
      }, {
        role: "admin",
        response: t.Object({
          ok: Ok, data: t.Record(t.String(), t.Unknown()), changed: t.Array(t.String()), applied: t.Array(t.String()),
          restart_required: t.Array(t.String()), plugin_reload_required: t.Array(t.String()),
        }),
        detail: { summary: "Re-read gantry.toml and the environment; 400 with the problems (running config kept) when invalid" },
      })
      .get("/version", () => ({
        ok: true as const,
        version: s.info.version,
        build: { bun: s.info.runtime.bun, platform: s.info.runtime.platform, arch: s.info.runtime.arch, started_at: s.info.startedAt.toISOString() },
      }), {
        role: "admin",
        response: t.Object({ ok: Ok, version: t.String(), build: t.Object({ bun: t.String(), platform: t.String(), arch: t.String(), started_at: t.String() }) }),
        detail: { summary: "The running gantry version and build information" },
      })
      .put("/log-level", ({ body }) => {
        const level = requireLevel(body.level);
        const previous = s.loggers.setLevel("gantry", level);
        return { ok: true as const, previous, current: level };
      }, {
        role: "admin",
        body: LevelBody,
        response: t.Object({ ok: Ok, previous: t.String(), current: t.String() }),
        detail: { summary: "Set the level of every logger at once, without restart" },
      })
      .get("/env", () => ({ ok: true as const, data: redactedEnvironment() }), {
        role: "admin",
        response: t.Object({ ok: Ok, data: t.Record(t.String(), t.String()) }),
        detail: { summary: "Environment variables, sorted, secrets redacted (same as GET /env)" },
      })
      .get("/loggers", () => ({ ok: true as const, loggers: s.loggers.list() }), {
        role: "admin",
        response: t.Object({ ok: Ok, loggers: t.Array(t.Object({ name: t.String(), level: t.String() })) }),
        detail: { summary: "Every named logger and its level" },
      })
      .put("/loggers/:name", ({ params, body }) => {
        const level = requireLevel(body.level);
        if (!s.loggers.get(params.name)) throw InfraErrors.LOGGER_NOT_FOUND([params.name]);
        const previous = s.loggers.setLevel(params.name, level);
        return { ok: true as const, name: params.name, previous, current: level };
      }, {
        role: "admin",
        params: t.Object({ name: t.String({ maxLength: 200 }) }),
        body: LevelBody,
        response: t.Object({ ok: Ok, name: t.String(), previous: t.String(), current: t.String() }),
        detail: { summary: "Set one logger's level (root logger: gantry)" },
      })
      .get("/tasks", ({ query }) => {
        if (query.level !== undefined && !isTaskLevel(query.level)) throw InfraErrors.INVALID_TASK_LEVEL([query.level]);
        const { summary, threads } = listTasks(s.tasks.list(), query);
        return { ok: true as const, summary, tasks: threads };
      }, {
        role: "admin", query: TaskFilterQuery,
        response: t.Object({ ok: Ok, summary: TaskSummary, tasks: t.Array(TaskSnapshot) }),
        detail: { summary: "Periodic tasks with run statistics (same data as GET /periodic-threads)" },
      })
      .get("/tasks/:name", ({ params }) => {
        const task = s.tasks.get(params.name);
        if (!task) throw InfraErrors.TASK_NOT_FOUND([params.name]);
        return { ok: true as const, task: task.snapshot() };
      }, { role: "admin", params: t.Object({ name: t.String({ maxLength: 200 }) }), response: t.Object({ ok: Ok, task: TaskSnapshot }), detail: { summary: "One periodic task" } })
      .get("/tasks-health", () => {
        const health = taskHealth(s.tasks.list());
        return { ok: true as const, healthy: health.healthy, unhealthy_count: health.unhealthy_count, unhealthy_tasks: health.unhealthy_threads };
      }, {
        role: "admin",
        response: t.Object({
          ok: Ok, healthy: t.Boolean(), unhealthy_count: t.Integer(),
          unhealthy_tasks: t.Array(UnhealthyTask),
        }),
        detail: { summary: "Healthy iff every critical and high periodic task is active; always 200" },
      });
}
