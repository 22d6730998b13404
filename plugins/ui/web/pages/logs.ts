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
const FLUSH_EVERY_MS = 100;

/**
 * Appends lines to the box directly, in batches at most ten times a second: a model server may print thousands
 * of lines a second, and re-rendering a thousand-line list through the virtual DOM for each batch cost more than
 * a frame (measured in bench/ui).
 */
class LogSink {
  #queued: LogLine[] = [];
  #frame = 0;
  #timer = 0;
  #last = 0;
  count = 0;

  constructor(private readonly box: HTMLElement, private readonly follow: () => boolean, private readonly onCount: (n: number) => void) {}

  push(line: LogLine): void {
    this.#queued.push(line);
    if (this.#frame || this.#timer) return;
    // At most ten updates a second: enough to read a moving log, and the page keeps its frames for everything else.
    const wait = Math.max(0, this.#last + FLUSH_EVERY_MS - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = 0;
      this.#frame = requestAnimationFrame(() => this.#flush());
    }, wait) as unknown as number;
  }

  #flush(): void {
    this.#frame = 0;
    this.#last = performance.now();
    const batch = this.#queued.length > KEEP ? this.#queued.slice(-KEEP) : this.#queued;
    this.#queued = [];
    const fragment = document.createDocumentFragment();
    for (const line of batch) {
      const div = document.createElement("div");
      div.className = `lvl-${line.level}`;
      div.textContent = `${line.timestamp.slice(11, 23)} ${line.level.padEnd(5)} ${line.message}`;
      fragment.append(div);
    }
    this.box.append(fragment);
    let extra = this.box.childElementCount - KEEP;
    while (extra-- > 0) this.box.firstElementChild!.remove();
    this.count = this.box.childElementCount;
    this.onCount(this.count);
    if (this.follow()) this.box.scrollTop = this.box.scrollHeight;
  }

  close(): void {
    cancelAnimationFrame(this.#frame);
    clearTimeout(this.#timer);
  }
}

export function LogView(props: { name: string }): VNode {
  const [level, setLevel] = useState("");
  const [follow, setFollow] = useState(true);
  const [count, setCount] = useState(0);
  const [error, setError] = useState("");
  const box = useRef<HTMLDivElement>(null);
  const following = useRef(follow);
  following.current = follow;
  useEffect(() => {
    const controller = new AbortController();
    box.current!.replaceChildren();
    const sink = new LogSink(box.current!, () => following.current, setCount);
    setError("");
    (async () => {
      const res = await raw(`/api/v1/instances/${encodeURIComponent(props.name)}/logs`, {
        query: { lines: 200, level: level || undefined, follow: follow || undefined }, signal: controller.signal,
      });
      if (!follow) {
        for (const line of ((await res.json()) as { logs: LogLine[] }).logs) sink.push(line);
        return;
      }
      await readEvents(res, (data) => sink.push(JSON.parse(data) as LogLine));
    })().catch((e) => (e as Error).name !== "AbortError" && setError(messageOf(e)));
    return () => {
      controller.abort();
      sink.close();
    };
  }, [props.name, level, follow]);
  return html`<div class="log-controls">
      <${Field} label="Level"><select value=${level} onChange=${(e: Event) => setLevel((e.target as HTMLSelectElement).value)}>
        <option value="">all</option>${["debug", "info", "warn", "error"].map((l) => html`<option value=${l}>${l} and above</option>`)}</select><//>
      <label class="check"><input type="checkbox" checked=${follow} onChange=${(e: Event) => setFollow((e.target as HTMLInputElement).checked)} /> Follow</label>
      <span class="muted">${count} lines</span>
    </div>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <div class="log" ref=${box} tabindex="0" role="log" aria-label=${`Logs of ${props.name}`} aria-live="off"></div>`;
}
