/**
 * The operations API's GET /threads for a Bun process. Bun has no Python-style threads, so the listing maps
 * what exists onto "threads": the main JavaScript thread (id = process id), every child process
 * gantry supervises (id = its pid), and every periodic task (id = a stable hash of its name, since
 * tasks share the main thread). JavaScript cannot capture another thread's stack, so each entry
 * reports its state instead of a stack trace.
 */
import { runtime } from "gantry/plugin";
import type { PeriodicTask, ProcessInfo } from "gantry/plugin";

export interface ThreadEntry {
  name: string;
  thread_id: number;
  kind: "main" | "subprocess" | "periodic-task";
  daemon: boolean;
  details: string[];
}

/** FNV-1a: a stable 31-bit id for a task name, the same across reloads and restarts. */
export function taskThreadId(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return (hash >>> 1) || 1;
}

export function collectThreads(tasks: PeriodicTask[], processes: ProcessInfo[], now = Date.now()): ThreadEntry[] {
  const memory = process.memoryUsage();
  const main: ThreadEntry = {
    name: "main",
    thread_id: process.pid,
    kind: "main",
    daemon: false,
    details: [
      `runtime: ${runtime.name} ${runtime.version} (${process.platform}/${process.arch})`,
      `uptime_s: ${Math.round(process.uptime())}`,
      `rss_bytes: ${memory.rss}`,
      `heap_used_bytes: ${memory.heapUsed}`,
    ],
  };
  const children = processes.map((p): ThreadEntry => ({
    name: `${p.plugin}:${p.name}`,
    thread_id: p.pid,
    kind: "subprocess",
    daemon: true,
    details: [`command: ${p.command.join(" ")}`, `started_at: ${p.started_at}`],
  }));
  const periodic = tasks.map((t): ThreadEntry => {
    const s = t.snapshot(now);
    return {
      name: s.name,
      thread_id: taskThreadId(s.name),
      kind: "periodic-task",
      daemon: true,
      details: [
        `plugin: ${s.plugin}`, `level: ${s.level}`, `interval_s: ${s.interval}`,
        `running: ${s.is_running}`, `executing: ${s.is_executing}`, `active: ${s.is_active}`,
        `last_run_time: ${s.last_run_time ?? "never"}`, `total_runs: ${s.total_runs}`, `failed_runs: ${s.failed_runs}`,
      ],
    };
  });
  return [main, ...children, ...periodic];
}

/** Filters by name (case-insensitive substring) and id. */
export function filterThreads(threads: ThreadEntry[], name?: string, threadId?: number): ThreadEntry[] {
  return threads.filter((t) => (name ? t.name.toLowerCase().includes(name.toLowerCase()) : true) && (threadId === undefined ? true : t.thread_id === threadId));
}

/** The text/plain body: one block per thread, then a summary. */
export function renderThreads(threads: ThreadEntry[], total: number): string {
  const blocks = threads.map((t) =>
    [
      `Thread Name: ${t.name}`,
      `Thread ID: ${t.thread_id}`,
      `Kind: ${t.kind}`,
      `Daemon: ${t.daemon ? "True" : "False"}`,
      "State:",
      ...t.details.map((d) => `  ${d}`),
      "Stack trace: not available (a JavaScript runtime cannot capture another thread's stack)",
    ].join("\n"),
  );
  const count = (kind: ThreadEntry["kind"]) => threads.filter((t) => t.kind === kind).length;
  const summary = [
    "=== Summary ===",
    `Total threads: ${total}`,
    `Matched threads: ${threads.length}`,
    `main: ${count("main")}, subprocesses: ${count("subprocess")}, periodic tasks: ${count("periodic-task")}`,
  ].join("\n");
  return [`=== Threads (${threads.length}) ===`, ...blocks, summary].join("\n\n") + "\n";
}
