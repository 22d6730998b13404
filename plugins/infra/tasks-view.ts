/** Seed 003's periodic-thread views over gantry's periodic tasks. */
import { TASK_LEVELS, type PeriodicTask, type PeriodicTaskSnapshot, type TaskLevel } from "gantry/plugin";

export interface TaskFilter {
  level?: string;
  running_only?: boolean;
  active_only?: boolean;
}

/** The error seed 003 answers for an unknown level. */
export function invalidLevelMessage(level: string): string {
  return `Invalid level: ${level}. Valid values: ${TASK_LEVELS.join(", ")}`;
}

export function isTaskLevel(level: string): level is TaskLevel {
  return (TASK_LEVELS as readonly string[]).includes(level);
}

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
