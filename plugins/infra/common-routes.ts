/** The operations API at its documented root paths, with the documented text and JSON bodies. */
import { QueryInteger, t, taskHealth, textResponses, type CoreLoggersService, type CoreMetricsService, type CoreProcessesService, type CoreTasksService, type RolesApp } from "gantry/plugin";
import { redactedEnvironment } from "./environment.ts";
import { parseLevel, pythonName } from "./levels.ts";
import { invalidLevelMessage, isTaskLevel, listTasks, SeedError, TaskFilterQuery, TaskSnapshot, TaskSummary, UnhealthyTask } from "./tasks-view.ts";
import { collectThreads, filterThreads, renderThreads } from "./threads.ts";

export interface CommonServices {
  loggers: CoreLoggersService;
  tasks: CoreTasksService;
  metrics: CoreMetricsService;
  processes: CoreProcessesService;
}

const TEXT_PLAIN = "text/plain; charset=utf-8";

export function commonRoutes(s: CommonServices) {
  return (app: RolesApp) =>
    app
      .get("/env", () => redactedEnvironment(), {
        role: "admin",
        response: t.Record(t.String(), t.String()),
        detail: { summary: "Environment variables, sorted by name; secret values redacted" },
      })
      .get("/loglevel", ({ query, set }) => {
        set.headers["content-type"] = TEXT_PLAIN;
        const { logger_name: name, level } = query;
        if (name === undefined && level === undefined) {
          return ["=== Loggers and Levels ===", ...s.loggers.list().map((l) => `${l.name}: ${pythonName(l.level)}`)].join("\n") + "\n";
        }
        if (name === undefined) {
          set.status = 400;
          return "logger_name is required to set a level\n";
        }
        const logger = s.loggers.get(name);
        if (level !== undefined) {
          const parsed = parseLevel(level);
          if (!parsed) {
            set.status = 400;
            return `Invalid log level: ${level}`;
          }
          if (!logger) {
            set.status = 404;
            return `Logger not found: ${name}`;
          }
          s.loggers.setLevel(name, parsed);
          return `Set ${name} level to ${pythonName(parsed)} (including all handlers)`;
        }
        if (!logger) {
          set.status = 404;
          return `Logger not found: ${name}`;
        }
        return `${name}: ${pythonName(logger.level)}`;
      }, {
        role: "admin",
        query: t.Object({ logger_name: t.Optional(t.String({ maxLength: 200 })), level: t.Optional(t.String({ maxLength: 32 })) }),
        detail: {
          summary: "List loggers and levels; get one (logger_name); set one (logger_name + level). text/plain",
          responses: textResponses("The loggers and levels, one logger's level, or the confirmation of a change", { 400: "No logger_name, or an invalid level", 404: "Logger not found: <name>" }),
        },
      })
      .post("/metrics/reset", ({ set }) => {
        s.metrics.reset();
        set.headers["content-type"] = TEXT_PLAIN;
        return "ok";
      }, { role: "admin", detail: { summary: "Reset all Prometheus metrics to their initial state", responses: textResponses("ok") } })
      .get("/threads", ({ query, set }) => {
        set.headers["content-type"] = TEXT_PLAIN;
        const all = collectThreads(s.tasks.list(), s.processes.list());
        return renderThreads(filterThreads(all, query.name, query.thread_id), all.length);
      }, {
        role: "admin",
        query: t.Object({ name: t.Optional(t.String({ maxLength: 200 })), thread_id: t.Optional(QueryInteger()) }),
        detail: { summary: "Main thread, supervised subprocesses and periodic tasks (text/plain); see docs/infra.md for the mapping", responses: textResponses("One block per thread") },
      })
      .get("/periodic-threads", ({ query, set }) => {
        if (query.level !== undefined && !isTaskLevel(query.level)) {
          set.status = 400;
          return { error: invalidLevelMessage(query.level) };
        }
        return listTasks(s.tasks.list(), query);
      }, {
        role: "admin", query: TaskFilterQuery,
        response: { 200: t.Object({ summary: TaskSummary, threads: t.Array(TaskSnapshot) }), 400: SeedError },
        detail: { summary: "Periodic tasks with run statistics; filters level, running_only, active_only" },
      })
      .get("/periodic-threads/:thread_name", ({ params, set }) => {
        const task = s.tasks.get(params.thread_name);
        if (!task) {
          set.status = 404;
          return { error: `Thread not found: ${params.thread_name}` };
        }
        return task.snapshot();
      }, { role: "admin", params: t.Object({ thread_name: t.String({ maxLength: 200 }) }), response: { 200: TaskSnapshot, 404: SeedError }, detail: { summary: "One periodic task" } })
      .get("/periodic-threads-health", () => taskHealth(s.tasks.list()), {
        role: "admin",
        response: t.Object({
          healthy: t.Boolean(),
          unhealthy_count: t.Integer(),
          unhealthy_threads: t.Array(UnhealthyTask),
        }),
        detail: { summary: "Healthy iff every critical and high task is active; always 200" },
      });
}
