/**
 * A read-only SQL query over one run's journal. The run's events are copied into a private
 * in-memory SQLite database (a table `run_events`, nothing else in it) opened with `query_only`,
 * in a worker that is terminated at the statement timeout: no other table is reachable, writes are
 * refused, and a runaway query cannot hold the server.
 */
import { runtime } from "gantry/plugin";
import type { EventRow } from "./store.ts";

export type QueryOutcome =
  | { ok: true; columns: string[]; rows: unknown[][]; truncated: boolean }
  | { ok: false; reason: "refused" | "timeout" | "error"; message: string };

/** Only one SELECT (or WITH ... SELECT) statement; comments do not hide another. */
export function refusal(sql: string): string | undefined {
  const stripped = sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, " ").trim().replace(/;\s*$/, "");
  if (!/^(select|with)\b/i.test(stripped)) return "only a SELECT (or WITH ... SELECT) statement reads the journal";
  if (stripped.includes(";")) return "one statement only";
  if (/\b(attach|detach|pragma|vacuum|load_extension)\b/i.test(stripped)) return "ATTACH, PRAGMA, VACUUM and extensions are not available";
  return undefined;
}

export async function queryJournal(events: EventRow[], sql: string, options: { timeoutMs: number; maxRows: number }): Promise<QueryOutcome> {
  const refused = refusal(sql);
  if (refused) return { ok: false, reason: "refused", message: refused };
  const worker = new Worker(runtime.workerUrl("plugins/pipelines/journal-worker.ts"), { type: "module" });
  const rows = events.map((e) => [e.runId, e.seq, e.at.toISOString(), e.phase, e.kind, JSON.stringify(e.data)]);
  try {
    return await new Promise<QueryOutcome>((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, reason: "timeout", message: `the query ran longer than ${options.timeoutMs} ms` }), options.timeoutMs);
      worker.onmessage = (message: MessageEvent<QueryOutcome>) => {
        clearTimeout(timer);
        resolve(message.data);
      };
      worker.onerror = (error) => {
        clearTimeout(timer);
        resolve({ ok: false, reason: "error", message: error.message });
      };
      worker.postMessage({ rows, sql, maxRows: options.maxRows });
    });
  } finally {
    worker.terminate();
  }
}
