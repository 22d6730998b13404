/** The operations API's periodic-thread views over gantry's periodic tasks. */
import { t, TASK_LEVELS, type PeriodicTask, type PeriodicTaskSnapshot, type TaskLevel } from "gantry/plugin";

/** The filters of GET /periodic-threads and GET /api/v1/infra/tasks. */
export const TaskFilterQuery = t.Object({
  level: t.Optional(t.String({ maxLength: 32, description: "critical, high, medium or low" })),
  running_only: t.Optional(t.BooleanString({ description: "only tasks whose schedule is running" })),
  active_only: t.Optional(t.BooleanString({ description: "only tasks that ran within 3× their interval" })),
});

export interface TaskFilter {
  level?: string;
  running_only?: boolean;
  active_only?: boolean;
}

/** The error the operations API answers for an unknown level. */
export function invalidLevelMessage(level: string): string {
  return `Invalid level: ${level}. Valid values: ${TASK_LEVELS.join(", ")}`;
}

export function isTaskLevel(level: string): level is TaskLevel {
  return (TASK_LEVELS as readonly string[]).includes(level);
}

/** One task as GET /periodic-threads/{name} shows it. */
export const TaskSnapshot = t.Object({
  name: t.String(), plugin: t.String(), level: t.String(), interval: t.Number(), init_wait: t.Number(),
  is_running: t.Boolean(), is_executing: t.Boolean(), is_active: t.Boolean(), is_sleeping: t.Boolean(),
  last_run_time: t.Union([t.String(), t.Null()]), last_run_ago: t.Union([t.Number(), t.Null()]),
  total_runs: t.Integer(), failed_runs: t.Integer(), success_rate: t.Number(),
  last_summary: t.Union([t.String(), t.Null()]), last_error: t.Union([t.String(), t.Null()]),
});

export const TaskSummary = t.Object({
  total_count: t.Integer(), running_count: t.Integer(), active_count: t.Integer(),
  by_level: t.Record(t.String(), t.Object({ total: t.Integer(), running: t.Integer(), active: t.Integer() })),
});

/** A critical or high task that has not run within 3× its interval. */
export const UnhealthyTask = t.Object({ name: t.String(), level: t.String(), last_run_ago: t.Union([t.Number(), t.Null()]), interval: t.Number() });

/** The operations API's error body for these routes. */
export const SeedError = t.Object({ error: t.String() });

/** `{summary, threads}` as GET /periodic-threads answers. */
export function listTasks(tasks: PeriodicTask[], filter: TaskFilter, now = Date.now()) {
  const snapshots = tasks
    .map((t) => t.snapshot(now))
    .filter((s) => (filter.level ? s.level === filter.level : true))
    .filter((s) => (filter.running_only ? s.is_running : true))
    .filter((s) => (filter.active_only ? s.is_active : true))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { summary: summarize(snapshots), threads: snapshots };
}

function summarize(snapshots: PeriodicTaskSnapshot[]) {
  const byLevel: Record<string, { total: number; running: number; active: number }> = {};
  for (const level of TASK_LEVELS) {
    const of = snapshots.filter((s) => s.level === level);
    if (of.length > 0) byLevel[level] = { total: of.length, running: of.filter((s) => s.is_running).length, active: of.filter((s) => s.is_active).length };
  }
  return {
    total_count: snapshots.length,
    running_count: snapshots.filter((s) => s.is_running).length,
    active_count: snapshots.filter((s) => s.is_active).length,
    by_level: byLevel,
  };
}
