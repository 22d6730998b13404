/** Runs one journal query in a private in-memory database (see journal-query.ts). */

declare const self: Worker;

self.onmessage = async (message: MessageEvent<{ rows: unknown[][]; sql: string; maxRows: number }>) => {
  const { rows, sql, maxRows } = message.data;
  // Imported here: a worker whose static imports await at top level loses early messages (Bun).
  const { runtime } = await import("gantry/runtime");
  const db = runtime.openSqlite(":memory:");
  try {
    db.exec("CREATE TABLE run_events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL, phase TEXT, kind TEXT NOT NULL, data TEXT NOT NULL)");
    const insert = db.prepare("INSERT INTO run_events VALUES (?, ?, ?, ?, ?, ?)");
    db.transaction(() => {
      for (const row of rows) insert.run(...(row as [string, number, string, string | null, string, string]));
    })();
    db.exec("PRAGMA query_only = ON");
    const statement = db.prepare(sql);
    const columns = statement.columnNames;
    const out: unknown[][] = [];
    let truncated = false;
    for (const row of statement.iterate() as IterableIterator<Record<string, unknown>>) {
      if (out.length >= maxRows) {
        truncated = true;
        break;
      }
      out.push(columns.map((c) => row[c]));
    }
    postMessage({ ok: true, columns, rows: out, truncated });
  } catch (error) {
    const text = (error as Error).message;
    postMessage({ ok: false, reason: /readonly|query_only|not authorized/i.test(text) ? "refused" : "error", message: text });
  } finally {
    db.close();
  }
};
