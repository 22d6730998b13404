/** Shared pieces of every page: data hooks, the role check, notices, tables, fields and formatting. */
import { html } from "htm/preact";
import { cloneElement, type ComponentChildren, type VNode } from "preact";
import { useCallback, useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError, call, type CallOptions } from "./api.ts";
import { useEvents } from "./live.ts";

export { html };

// ---- who is signed in, and what they may do (the API refuses anyway; the UI does not offer it) ----

export type Role = "viewer" | "operator" | "admin";
const RANK: Record<string, number> = { public: 0, inference: 0, viewer: 1, operator: 2, admin: 3 };
let role = "public";
export const setRole = (next: string) => (role = next);
/** True when the signed-in user's role is at least `need`. */
export const can = (need: Role) => (RANK[role] ?? 0) >= RANK[need]!;

// ---- notices (an aria-live region announces them to screen readers) ----

export interface Notice {
  id: number;
  kind: "ok" | "error";
  text: string;
}
let noticeId = 0;
const noticeListeners = new Set<(n: Notice) => void>();
export function notify(kind: Notice["kind"], text: string): void {
  const notice = { id: ++noticeId, kind, text };
  for (const listener of noticeListeners) listener(notice);
}
export const messageOf = (error: unknown) => (error instanceof ApiError ? `${error.message} (${error.code})` : (error as Error)?.message ?? String(error));

export function Notices(): VNode {
  const [items, setItems] = useState<Notice[]>([]);
  useEffect(() => {
    const add = (n: Notice) => {
      setItems((list) => [...list.slice(-3), n]);
      setTimeout(() => setItems((list) => list.filter((x) => x.id !== n.id)), n.kind === "error" ? 8000 : 4000);
    };
    noticeListeners.add(add);
    return () => void noticeListeners.delete(add);
  }, []);
  return html`<div class="notices" role="status" aria-live="polite">
    ${items.map((n) => html`<p key=${n.id} class=${`notice ${n.kind}`}>${n.text}</p>`)}
  </div>`;
}

// ---- data ----

export interface Loaded<T> {
  data: T | undefined;
  error?: ApiError | Error | undefined;
  reload: () => void;
}

export interface UseApiOptions {
  query?: CallOptions["query"];
  /** Event types that make the data stale; reloads are coalesced. */
  reloadOn?: string[];
  /** Poll every N ms as well (for data without events). */
  every?: number;
  /** When false, nothing is fetched (for instance, a role may not read it). */
  enabled?: boolean;
}

/** GETs `path` (again when the path, query or a named event says so). */
export function useApi<T>(path: string | null, options: UseApiOptions = {}): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError | Error }>({});
  const [tick, setTick] = useState(0);
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const queryKey = JSON.stringify(options.query ?? {});
  const enabled = options.enabled !== false && path !== null;
  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    call<T>(path!, { query: options.query, signal: controller.signal })
      .then((data) => setState({ data }))
      .catch((error) => error.name !== "AbortError" && setState((s) => ({ data: s.data, error })));
    return () => controller.abort();
  }, [path, queryKey, tick, enabled]);
  useEffect(() => {
    if (!options.every || !enabled) return;
    const timer = setInterval(() => setTick((n) => n + 1), options.every);
    return () => clearInterval(timer);
  }, [options.every, enabled]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  useEvents(options.reloadOn ?? [], () => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      reload();
    }, 250);
  });
  return { ...state, data: state.data, reload };
}

/** Runs an action with a busy flag; success and failure become notices. Returns the result or undefined. */
export function useAction(): [boolean, <R>(work: () => Promise<R>, success?: string | ((r: R) => string)) => Promise<R | undefined>] {
  const [busy, setBusy] = useState(false);
  const run = useCallback(async <R,>(work: () => Promise<R>, success?: string | ((r: R) => string)) => {
    setBusy(true);
    try {
      const result = await work();
      if (success) notify("ok", typeof success === "function" ? success(result) : success);
      return result;
    } catch (error) {
      notify("error", messageOf(error));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return [busy, run];
}

// ---- layout ----

export function Page(props: { title: string; actions?: ComponentChildren; children?: ComponentChildren }): VNode {
  useEffect(() => {
    document.title = `${props.title} · gantry`;
  }, [props.title]);
  return html`<section class="page" aria-labelledby="page-title">
    <header class="page-head"><h1 id="page-title" tabindex="-1">${props.title}</h1><div class="actions">${props.actions}</div></header>
    ${props.children}
  </section>`;
}

export function Panel(props: { title: string; children?: ComponentChildren; actions?: ComponentChildren }): VNode {
  const id = `panel-${props.title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return html`<section class="panel" aria-labelledby=${id}>
    <header class="panel-head"><h2 id=${id}>${props.title}</h2>${props.actions}</header>
    ${props.children}
  </section>`;
}

export function Loading<T>(props: { loaded: Loaded<T>; children: (data: T) => ComponentChildren }): VNode {
  const { data, error } = props.loaded;
  if (error && data === undefined) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (data === undefined) return html`<p class="muted">Loading…</p>`;
  return html`${props.children(data)}`;
}

export interface Column<R> {
  label: string;
  render: (row: R) => ComponentChildren;
  /** Hidden on narrow screens. */
  wide?: boolean;
}

export function Table<R>(props: { caption: string; columns: Column<R>[]; rows: R[]; rowKey: (r: R) => string | number; empty?: string }): VNode {
  if (props.rows.length === 0) return html`<p class="muted">${props.empty ?? "Nothing yet."}</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${props.caption}>
    <table>
      <caption class="sr-only">${props.caption}</caption>
      <thead><tr>${props.columns.map((c) => html`<th scope="col" class=${c.wide ? "wide" : ""}>${c.label}</th>`)}</tr></thead>
      <tbody>${props.rows.map((r) => html`<tr key=${props.rowKey(r)}>${props.columns.map((c) => html`<td class=${c.wide ? "wide" : ""}>${c.render(r)}</td>`)}</tr>`)}</tbody>
    </table>
  </div>`;
}

const STATUS_TONE: Record<string, string> = {
  running: "ok", healthy: "ok", active: "ok", connected: "ok", succeeded: "ok", approved: "ok", completed: "ok", true: "ok",
  stopped: "idle", disabled: "idle", pending: "warn", starting: "warn", stopping: "warn", restarting: "warn", waiting_approval: "warn", queued: "warn",
  failed: "bad", unhealthy: "bad", error: "bad", rejected: "bad", denied: "bad", expired: "bad", disconnected: "bad", false: "idle",
};
export const Status = (props: { value: string | boolean | null | undefined }) =>
  html`<span class=${`badge ${STATUS_TONE[String(props.value)] ?? "idle"}`}>${String(props.value ?? "—")}</span>`;

/**
 * A labelled control, associated by id (a label wrapped around a select would take the options into its name);
 * the hint is linked with aria-describedby.
 */
export function Field(props: { label: string; hint?: string; children: VNode }): VNode {
  const id = useId();
  const control = cloneElement(props.children, { id, "aria-describedby": props.hint ? `${id}-hint` : undefined });
  return html`<div class="field"><label class="label" for=${id}>${props.label}</label>${control}${props.hint ? html`<small class="hint" id=${`${id}-hint`}>${props.hint}</small>` : null}</div>`;
}

export const Json = (props: { value: unknown; label?: string }) =>
  html`<pre class="json" tabindex="0" aria-label=${props.label ?? "JSON"}>${typeof props.value === "string" ? props.value : JSON.stringify(props.value, null, 2)}</pre>`;

export const Link = (props: { to: string; children: ComponentChildren; class?: string }) => html`<a href=${`/ui${props.to}`} class=${props.class}>${props.children}</a>`;

// ---- formatting ----

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function ago(iso: string | null | undefined): string {
  if (!iso) return "—";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 0) return `in ${duration(-s)}`;
  return `${duration(s)} ago`;
}

export function duration(s: number): string {
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export const percent = (n: number | null | undefined) => (n === null || n === undefined ? "—" : `${n.toFixed(1)} %`);
