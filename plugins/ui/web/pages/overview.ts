/** Overview: this node, instances by status with memory and CPU, periodic-task health, recent alerts, and per-model traffic. */
import type { VNode } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { raw } from "../api.ts";
import { subscribe, useEvents, type LiveEvent } from "../live.ts";
import { bytes, can, duration, html, Link, Loading, Page, Panel, percent, Status, Table, useApi, ago } from "../ui.ts";
import type { Instance } from "./instances.ts";

interface SystemStatus {
  version: string;
  uptime: number;
  instances: { total: number; running: number; stopped: number };
  resources: { cpu_usage: number; memory_usage: number; memory_total: number; disk_usage: number };
}
interface TasksHealth {
  healthy: boolean;
  unhealthy_count: number;
  unhealthy_tasks: { name: string; level: string; last_run_ago: number | null; interval: number }[];
}
type Alert = { severity: string; source?: string; message: string; time: string };

// Alerts arrive as events; the last few are kept for the whole session, whichever page is open.
const alerts: Alert[] = [];
subscribe(["system_alert"], (event: LiveEvent) => {
  alerts.unshift({ ...(event.data as { severity: string; message: string; source?: string }), time: event.time });
  alerts.length = Math.min(alerts.length, 20);
});

/** The instances list, with stats patched in from instance_stats_updated events between reloads. */
export function useInstances() {
  const loaded = useApi<{ instances: Instance[] }>("/api/v1/instances", { reloadOn: ["instance_status_changed", "plugin_reloaded"] });
  const [stats, setStats] = useState<Record<string, Instance["stats"]>>({});
  // A node with many instances sends many stats events a second: gather them and render twice a second at most
  // (a render per frame kept the page's main thread ~280 ms/s busy at 100 events/s; see bench/ui).
  const pending = useRef<Record<string, Instance["stats"]>>({});
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  useEvents(["instance_stats_updated"], (event) => {
    const data = event.data as { name: string; stats: Instance["stats"] };
    pending.current[data.name] = data.stats;
    timer.current ??= setTimeout(() => {
      timer.current = null;
      const batch = pending.current;
      pending.current = {};
      setStats((s) => ({ ...s, ...batch }));
    }, 500);
  });
  const instances = loaded.data?.instances.map((i) => (stats[i.name] ? { ...i, stats: stats[i.name]! } : i));
  return { ...loaded, data: instances };
}

interface ModelTraffic {
  model: string;
  total: number;
  rate: number;
  latencyMs: number | null;
  errors: number;
}

/** Sums the instances plugin's inference metrics by `model` over every client API (errors: status 400 and above). */
function parseModelMetrics(text: string): Map<string, { total: number; errors: number; sum: number; count: number }> {
  const out = new Map<string, { total: number; errors: number; sum: number; count: number }>();
  const line = /^(gantry_inference_(?:requests_total|duration_seconds_sum|duration_seconds_count))\{([^}]*)\} ([0-9.eE+-]+)$/gm;
  for (const match of text.matchAll(line)) {
    const labels = Object.fromEntries([...match[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    const model = labels.model ?? "?";
    const entry = out.get(model) ?? { total: 0, errors: 0, sum: 0, count: 0 };
    const value = Number(match[3]);
    if (match[1] === "gantry_inference_requests_total") {
      entry.total += value;
      if (Number(labels.status) >= 400) entry.errors += value;
    } else if (match[1]!.endsWith("_sum")) entry.sum += value;
    else entry.count += value;
    out.set(model, entry);
  }
  return out;
}

/** Requests/s and mean response time (streams to their last byte) per model over the last polling interval, from gantry's own /metrics. */
function useModelTraffic(every = 5000): ModelTraffic[] | undefined {
  const previous = useRef<{ at: number; by: ReturnType<typeof parseModelMetrics> } | null>(null);
  const [rows, setRows] = useState<ModelTraffic[]>();
  useEffect(() => {
    let stopped = false;
    const poll = async () => {
      try {
        const now = parseModelMetrics(await (await raw("/metrics")).text());
        const at = performance.now();
        const before = previous.current;
        const seconds = before ? (at - before.at) / 1000 : 0;
        if (!stopped) setRows([...now].map(([model, m]) => {
          const old = before?.by.get(model);
          const dCount = old ? m.count - old.count : m.count;
          return {
            model, total: m.total, errors: m.errors,
            rate: old && seconds > 0 ? (m.total - old.total) / seconds : 0,
            latencyMs: dCount > 0 ? ((old ? m.sum - old.sum : m.sum) / dCount) * 1000 : null,
          };
        }));
        previous.current = { at, by: now };
      } catch {
        // /metrics unavailable: the panel keeps its last numbers.
      }
    };
    void poll();
    const timer = setInterval(poll, every);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [every]);
  return rows;
}

const STATUS_ORDER = ["failed", "starting", "stopping", "running", "stopped"];

export function Overview(): VNode {
  const status = useApi<SystemStatus>("/api/v1/system/status", { every: 10_000, reloadOn: ["instance_status_changed"] });
  const instances = useInstances();
  const tasks = useApi<TasksHealth>("/api/v1/infra/tasks-health", { every: 15_000, enabled: can("admin") });
  const traffic = useModelTraffic();
  const [, setTick] = useState(0);
  useEvents(["system_alert"], () => setTick((n) => n + 1));
  const groups = STATUS_ORDER.map((s) => [s, (instances.data ?? []).filter((i) => i.status === s)] as const).filter(([, list]) => list.length > 0);
  return html`<${Page} title="Overview">
    <div class="grid">
      <${Panel} title="Nodes">
        <${Loading} loaded=${status}>${(s: SystemStatus) => html`<dl class="facts">
          <dt>Node</dt><dd>this node (single-node mode)</dd>
          <dt>Version</dt><dd>${s.version}</dd>
          <dt>Uptime</dt><dd>${duration(s.uptime)}</dd>
          <dt>CPU load</dt><dd>${percent(s.resources.cpu_usage)}</dd>
          <dt>Memory</dt><dd>${bytes(s.resources.memory_usage)} of ${bytes(s.resources.memory_total)}</dd>
          <dt>Disk</dt><dd>${percent(s.resources.disk_usage)}</dd>
          <dt>Instances</dt><dd>${s.instances.running} running of ${s.instances.total}</dd>
        </dl>`}<//>
      <//>
      ${can("admin") ? html`<${Panel} title="Periodic tasks">
        <${Loading} loaded=${tasks}>${(h: TasksHealth) => html`<p><${Status} value=${h.healthy ? "healthy" : "unhealthy"} /> ${h.unhealthy_count} unhealthy</p>
          ${h.unhealthy_tasks.length ? html`<ul>${h.unhealthy_tasks.map((t) => html`<li>${t.name} (${t.level}): last run ${t.last_run_ago === null ? "never" : `${Math.round(t.last_run_ago)} s ago`}</li>`)}</ul>` : null}`}<//>
      <//>` : null}
      <${Panel} title="Recent alerts">
        ${alerts.length === 0 ? html`<p class="muted">No alerts since this page opened.</p>` : html`<ul class="alerts">${alerts.slice(0, 8).map((a) => html`<li><${Status} value=${a.severity === "error" ? "error" : "pending"} /> ${a.message} <small class="muted">${ago(a.time)}</small></li>`)}</ul>`}
      <//>
    </div>
    <${Panel} title="Instances by status">
      <${Loading} loaded=${instances}>${() => groups.length === 0 ? html`<p class="muted">No instances. <${Link} to="/instances">Create one</${Link}>.</p>` : groups.map(([s, list]) => html`<h3><${Status} value=${s} /> ${list.length}</h3>
        <${Table} caption=${`${s} instances`} rowKey=${(i: Instance) => i.name} rows=${list} columns=${[
          { label: "Name", render: (i: Instance) => html`<${Link} to=${`/instances/${encodeURIComponent(i.name)}`}>${i.name}<//>` },
          { label: "Backend", render: (i: Instance) => i.backend, wide: true },
          { label: "Memory", render: (i: Instance) => bytes(i.stats.memory_usage) },
          { label: "CPU", render: (i: Instance) => percent(i.stats.cpu_usage) },
          { label: "Device", render: (i: Instance) => deviceOf(i), wide: true },
        ]} />`)}<//>
    <//>
    <${Panel} title="Traffic per model">
      ${traffic === undefined ? html`<p class="muted">Loading…</p>` : html`<${Table} caption="Requests per model" rowKey=${(r: ModelTraffic) => r.model} rows=${traffic} empty="No inference requests yet." columns=${[
        { label: "Model", render: (r: ModelTraffic) => r.model },
        { label: "Requests/s", render: (r: ModelTraffic) => r.rate.toFixed(2) },
        { label: "Latency", render: (r: ModelTraffic) => (r.latencyMs === null ? "—" : `${r.latencyMs.toFixed(0)} ms`) },
        { label: "Total", render: (r: ModelTraffic) => r.total },
        { label: "Errors", render: (r: ModelTraffic) => r.errors },
      ]} />`}
    <//>
  <//>`;
}

/** The accelerator an instance runs on, as its options or environment name it (model servers take it either way). */
export function deviceOf(i: Instance): string {
  const fromOptions = i.options.device ?? i.options["gpu-layers"] ?? i.options.n_gpu_layers;
  if (fromOptions !== undefined) return String(fromOptions);
  if ("CUDA_VISIBLE_DEVICES" in i.env) return "CUDA (set)";
  return "cpu";
}
