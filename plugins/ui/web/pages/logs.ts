/** An instance's log: the recent lines, then (with follow) new lines as they arrive, filtered by level and stream. */
import type { VNode } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { raw, readEvents } from "../api.ts";
import { Field, html, messageOf } from "../ui.ts";

interface LogLine {
  timestamp: string;
  level: string;
  message: string;
  stream: string;
}

/** Lines kept on screen; older ones drop off (the server keeps its own ring and files). */
const KEEP = 1000;

export function LogView(props: { name: string }): VNode {
  const [level, setLevel] = useState("");
  const [follow, setFollow] = useState(true);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState("");
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const controller = new AbortController();
    let queued: LogLine[] = [];
    let frame = 0;
    // Lines arrive in bursts (a model server may print thousands a second): render at most once a frame.
    const flush = () => {
      frame = 0;
      const batch = queued;
      queued = [];
      setLines((old) => (old.length + batch.length > KEEP ? [...old, ...batch].slice(-KEEP) : [...old, ...batch]));
    };
    setLines([]);
    setError("");
    (async () => {
      const res = await raw(`/api/v1/instances/${encodeURIComponent(props.name)}/logs`, {
        query: { lines: 200, level: level || undefined, follow: follow || undefined }, signal: controller.signal,
      });
      if (!follow) {
        setLines(((await res.json()) as { logs: LogLine[] }).logs);
        return;
      }
      await readEvents(res, (data) => {
        queued.push(JSON.parse(data) as LogLine);
        frame ||= requestAnimationFrame(flush);
      });
    })().catch((e) => (e as Error).name !== "AbortError" && setError(messageOf(e)));
    return () => {
      controller.abort();
      cancelAnimationFrame(frame);
    };
  }, [props.name, level, follow]);
  useEffect(() => {
    const el = box.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [lines, follow]);
  return html`<div class="log-controls">
      <${Field} label="Level"><select value=${level} onChange=${(e: Event) => setLevel((e.target as HTMLSelectElement).value)}>
        <option value="">all</option>${["debug", "info", "warn", "error"].map((l) => html`<option value=${l}>${l} and above</option>`)}</select><//>
      <label class="check"><input type="checkbox" checked=${follow} onChange=${(e: Event) => setFollow((e.target as HTMLInputElement).checked)} /> Follow</label>
      <span class="muted">${lines.length} lines</span>
    </div>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <pre class="log" ref=${box} tabindex="0" aria-label=${`Logs of ${props.name}`} aria-live="off">${lines.map((l) => html`<span class=${`lvl-${l.level}`}>${l.timestamp.slice(11, 23)} ${l.level.padEnd(5)} ${l.message}\n</span>`)}</pre>`;
}
