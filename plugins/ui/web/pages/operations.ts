/** Cron jobs and their runs, batch runs with progress, the cache daemon's queues, MCP servers and tools, and feature flags. */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { call } from "../api.ts";
import { ago, can, Field, html, Json, Link, Loading, Page, Panel, Status, Table, useAction, useApi } from "../ui.ts";

interface CronJob {
  id: string;
  name: string;
  schedule: string;
  command: string;
  enabled: boolean;
  running: boolean;
  next_run_at: string | null;
  last_run: { status: string; started_at: string } | null;
}
interface CronRun {
  id: number;
  trigger: string;
  actor: string;
  status: string;
  started_at: string;
  duration_ms: number | null;
  error: string | null;
  result: unknown;
}

export function Cron(): VNode {
  const jobs = useApi<{ jobs: CronJob[] }>("/api/v1/cron/jobs", { reloadOn: ["cron_run"] });
  const [busy, run] = useAction();
  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const f = new FormData(form);
    const body = { name: String(f.get("name")), schedule: String(f.get("schedule")), command: String(f.get("command")) };
    if (await run(() => call("/api/v1/cron/jobs", { method: "POST", body }), `Job ${body.name} created`)) {
      form.reset();
      jobs.reload();
    }
  };
  return html`<${Page} title="Cron jobs">
    <${Panel} title="Jobs">
      <${Loading} loaded=${jobs}>${(j: { jobs: CronJob[] }) => html`<${Table} caption="Cron jobs" rows=${j.jobs} rowKey=${(x: CronJob) => x.id} empty="No cron jobs." columns=${[
        { label: "Name", render: (x: CronJob) => html`<${Link} to=${`/cron/${x.id}`}>${x.name}<//>` },
        { label: "Schedule", render: (x: CronJob) => html`<code>${x.schedule}</code>` },
        { label: "Command", render: (x: CronJob) => html`<code>${x.command}</code>`, wide: true },
        { label: "Next", render: (x: CronJob) => (x.enabled ? ago(x.next_run_at) : "disabled"), wide: true },
        { label: "Last", render: (x: CronJob) => (x.running ? html`<${Status} value="running" />` : x.last_run ? html`<${Status} value=${x.last_run.status} />` : "—") },
        { label: "Actions", render: (x: CronJob) => can("admin") ? html`<button type="button" class="ghost" disabled=${busy} aria-label=${`Run ${x.name} now`} onClick=${() => run(() => call(`/api/v1/cron/jobs/${x.id}/run`, { method: "POST" }), `${x.name} started`)}>Run now</button>` : null },
      ]} />`}<//>
    <//>
    ${can("admin") ? html`<${Panel} title="New job"><form class="form-grid" onSubmit=${create}>
      <${Field} label="Name"><input name="name" required /><//>
      <${Field} label="Schedule" hint="cron expression, e.g. */5 * * * *"><input name="schedule" required /><//>
      <${Field} label="Command" hint="a slash command, e.g. /instances:list"><input name="command" required /><//>
      <div><button type="submit" disabled=${busy}>Create job</button></div>
    </form><//>` : null}
  <//>`;
}

export function CronJobRuns(props: { id: string }): VNode {
  const job = useApi<CronJob>(`/api/v1/cron/jobs/${props.id}`, { reloadOn: ["cron_run"] });
  const runs = useApi<{ runs: CronRun[] }>(`/api/v1/cron/jobs/${props.id}/runs`, { reloadOn: ["cron_run"] });
  return html`<${Page} title=${`Cron job ${job.data?.name ?? ""}`} actions=${html`<${Link} to="/cron">All jobs<//>`}>
    <${Panel} title="Run history">
      <${Loading} loaded=${runs}>${(r: { runs: CronRun[] }) => html`<${Table} caption="Run history" rows=${r.runs} rowKey=${(x: CronRun) => x.id} empty="No runs yet." columns=${[
        { label: "Started", render: (x: CronRun) => ago(x.started_at) }, { label: "Status", render: (x: CronRun) => html`<${Status} value=${x.status} />` },
        { label: "Trigger", render: (x: CronRun) => `${x.trigger} (${x.actor})`, wide: true }, { label: "Took", render: (x: CronRun) => (x.duration_ms === null ? "—" : `${x.duration_ms} ms`) },
        { label: "Outcome", render: (x: CronRun) => x.error ?? html`<code>${JSON.stringify(x.result)?.slice(0, 120)}</code>`, wide: true },
      ]} />`}<//>
    <//>
  <//>`;
}

interface BatchRun {
  run_id: string;
  status: string;
  actor: string;
  total: number;
  succeeded: number;
  failed: number;
  progress_percent: number;
  created_at: string;
}

export function Batch(): VNode {
  const runs = useApi<{ runs: BatchRun[] }>("/api/v1/batch", { reloadOn: ["batch_progress"] });
  return html`<${Page} title="Batch runs">
    <${Loading} loaded=${runs}>${(r: { runs: BatchRun[] }) => html`<${Table} caption="Batch runs" rows=${r.runs} rowKey=${(x: BatchRun) => x.run_id} empty="No batch runs. Submit one with POST /api/v1/batch/{run_id}." columns=${[
      { label: "Run", render: (x: BatchRun) => x.run_id }, { label: "Status", render: (x: BatchRun) => html`<${Status} value=${x.status} />` },
      { label: "Progress", render: (x: BatchRun) => html`<progress max="100" value=${x.progress_percent} aria-label=${`Progress of ${x.run_id}`}></progress> ${x.progress_percent.toFixed(0)} %` },
      { label: "Lines", render: (x: BatchRun) => `${x.succeeded} ok · ${x.failed} failed · ${x.total} total`, wide: true },
      { label: "Started", render: (x: BatchRun) => ago(x.created_at), wide: true },
    ]} />`}<//>
  <//>`;
}

interface CacheStatus {
  daemon: { daemon_id: string; uptime_seconds: number; last_tick: string | null; paused: boolean };
  internal_queue: { size: number; max_size: number; capacity_used_percent: number };
  rs_capacity: { total_free_tabs: number; reserved_for_online: number; available_for_recache: number; reservation_percent: number };
  queues: Record<string, Record<string, unknown>>;
}

export function Cache(): VNode {
  const status = useApi<CacheStatus>("/status", { every: 5000 });
  const [busy, run] = useAction();
  const toggle = (paused: boolean) => run(() => call(`/internal/scheduler/${paused ? "resume" : "pause"}`, { method: "POST" }), paused ? "Scheduler resumed" : "Scheduler paused").then(status.reload);
  return html`<${Page} title="Cache">
    <${Loading} loaded=${status}>${(s: CacheStatus) => html`<${Panel} title="Daemon" actions=${html`<button type="button" disabled=${busy} onClick=${() => toggle(s.daemon.paused)}>${s.daemon.paused ? "Resume scheduler" : "Pause scheduler"}</button>`}>
      <dl class="facts"><dt>Scheduler</dt><dd><${Status} value=${s.daemon.paused ? "pending" : "running"} /> ${s.daemon.paused ? "paused" : "running"}</dd>
        <dt>Last tick</dt><dd>${ago(s.daemon.last_tick)}</dd><dt>Internal queue</dt><dd>${s.internal_queue.size} of ${s.internal_queue.max_size}</dd>
        <dt>Render capacity</dt><dd>${s.rs_capacity.total_free_tabs} free tabs, ${s.rs_capacity.reserved_for_online} kept for online, ${s.rs_capacity.available_for_recache} for recache</dd></dl>
    <//>
    <${Panel} title="Queues"><${Json} value=${s.queues} label="Queues per host" /><//>`}<//>
  <//>`;
}

interface McpServer {
  name: string;
  status: string;
  transport: string | null;
  target: string | null;
  tools: number;
  last_error: string | null;
}
interface McpTool {
  server: string;
  name: string;
  description: string | null;
  input_schema: { properties?: Record<string, { type?: string; description?: string }>; required?: string[] };
}

/** A form from the tool's JSON Schema: one field per property; numbers and booleans converted, objects as JSON. */
function CallTool(props: { tool: McpTool }): VNode {
  const [busy, run] = useAction();
  const [result, setResult] = useState<unknown>(undefined);
  const properties = Object.entries(props.tool.input_schema.properties ?? {});
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const args: Record<string, unknown> = {};
    for (const [key, schema] of properties) {
      const text = String(form.get(key) ?? "");
      if (text === "" && !props.tool.input_schema.required?.includes(key)) continue;
      args[key] = schema.type === "number" || schema.type === "integer" ? Number(text) : schema.type === "boolean" ? text === "true" : schema.type === "string" || !schema.type ? text : JSON.parse(text);
    }
    const answer = await run(() => call(`/api/v1/mcp/servers/${encodeURIComponent(props.tool.server)}/tools/${encodeURIComponent(props.tool.name)}/call`, { method: "POST", body: { arguments: args } }));
    if (answer !== undefined) setResult(answer);
  };
  return html`<form class="form-grid" onSubmit=${submit}>
      ${properties.map(([key, schema]) => html`<${Field} label=${key} hint=${[schema.type, schema.description].filter(Boolean).join(": ")}><input name=${key} required=${props.tool.input_schema.required?.includes(key)} /><//>`)}
      <div><button type="submit" disabled=${busy}>Call ${props.tool.name}</button></div>
    </form>
    ${result !== undefined ? html`<${Json} value=${result} label=${`Result of ${props.tool.name}`} />` : null}`;
}

export function Mcp(): VNode {
  const servers = useApi<{ servers: McpServer[] }>("/api/v1/mcp/servers", { every: 10_000 });
  const tools = useApi<{ tools: McpTool[] }>("/api/v1/mcp/tools", { every: 30_000 });
  const [open, setOpen] = useState<string | null>(null);
  const key = (t: McpTool) => `${t.server}/${t.name}`;
  return html`<${Page} title="MCP servers">
    <${Panel} title="Servers"><${Loading} loaded=${servers}>${(s: { servers: McpServer[] }) => html`<${Table} caption="MCP servers" rows=${s.servers} rowKey=${(x: McpServer) => x.name} empty="No MCP servers configured." columns=${[
      { label: "Name", render: (x: McpServer) => x.name }, { label: "Status", render: (x: McpServer) => html`<${Status} value=${x.status} />${x.last_error ? html` <small class="error">${x.last_error}</small>` : null}` },
      { label: "Transport", render: (x: McpServer) => `${x.transport ?? "—"} ${x.target ?? ""}`, wide: true }, { label: "Tools", render: (x: McpServer) => x.tools },
    ]} />`}<//><//>
    <${Panel} title="Tools"><${Loading} loaded=${tools}>${(t: { tools: McpTool[] }) => html`<${Table} caption="MCP tools" rows=${t.tools} rowKey=${key} empty="No tools." columns=${[
      { label: "Tool", render: (x: McpTool) => html`<code>${x.server}/${x.name}</code>` }, { label: "Description", render: (x: McpTool) => x.description ?? "", wide: true },
      { label: "Call", render: (x: McpTool) => can("admin") ? html`<button type="button" class="ghost" aria-expanded=${open === key(x)} onClick=${() => setOpen(open === key(x) ? null : key(x))}>${open === key(x) ? "Close" : "Call…"}</button>` : null },
    ]} />
    ${open && t.tools.find((x) => key(x) === open) ? html`<${Panel} title=${`Call ${open}`}><${CallTool} tool=${t.tools.find((x) => key(x) === open)!} /><//>` : null}`}<//><//>
  <//>`;
}

interface Flag {
  name: string;
  type: string;
  value: unknown;
  default: unknown;
  description: string;
  plugin: string;
  overridden: boolean;
}

/** A boolean flag's switch: shows the new position at once, and the server's value once the change is answered. */
function FlagSwitch(props: { flag: Flag; busy: boolean; onSet: (value: boolean) => Promise<unknown> }): VNode {
  const [pending, setPending] = useState<boolean | null>(null);
  const on = pending ?? props.flag.value === true;
  const change = (e: Event) => {
    const value = (e.target as HTMLInputElement).checked;
    setPending(value);
    void props.onSet(value).finally(() => setPending(null));
  };
  return html`<label class="switch"><input type="checkbox" role="switch" checked=${on} disabled=${props.busy} onChange=${change} /> <span>${on ? "on" : "off"}</span><span class="sr-only"> ${props.flag.name}</span></label>`;
}

export function Flags(): VNode {
  const flags = useApi<{ features: Flag[] }>("/api/v1/features", { reloadOn: ["feature_flag_changed", "plugin_*"] });
  const [busy, run] = useAction();
  const set = (f: Flag, value: unknown) => run(() => call(`/api/v1/features/${encodeURIComponent(f.name)}`, { method: "PUT", body: { value } }), `${f.name} = ${JSON.stringify(value)}`).then(flags.reload);
  const reset = (f: Flag) => run(() => call(`/api/v1/features/${encodeURIComponent(f.name)}`, { method: "DELETE" }), `${f.name} reset`).then(flags.reload);
  const control = (f: Flag) => {
    if (!can("admin")) return html`<code>${JSON.stringify(f.value)}</code>`;
    if (f.type === "boolean") return html`<${FlagSwitch} flag=${f} busy=${busy} onSet=${(value: boolean) => set(f, value)} />`;
    return html`<form class="inline-form" onSubmit=${(e: Event) => {
      e.preventDefault();
      const text = String(new FormData(e.target as HTMLFormElement).get("value"));
      set(f, f.type === "number" ? Number(text) : f.type === "string" ? text : JSON.parse(text));
    }}><label class="sr-only" for=${`flag-${f.name}`}>Value of ${f.name}</label><input id=${`flag-${f.name}`} name="value" value=${f.type === "string" ? String(f.value) : JSON.stringify(f.value)} /><button type="submit" class="ghost" disabled=${busy}>Set</button></form>`;
  };
  return html`<${Page} title="Feature flags">
    <${Loading} loaded=${flags}>${(f: { features: Flag[] }) => html`<${Table} caption="Feature flags" rows=${f.features} rowKey=${(x: Flag) => x.name} empty="No flags." columns=${[
      { label: "Flag", render: (x: Flag) => html`<code>${x.name}</code><div class="muted">${x.description}</div>` },
      { label: "Value", render: (x: Flag) => html`<span data-flag=${x.name}>${control(x)}</span>` },
      { label: "Default", render: (x: Flag) => html`<code>${JSON.stringify(x.default)}</code>`, wide: true },
      { label: "", render: (x: Flag) => (can("admin") && x.overridden ? html`<button type="button" class="ghost" disabled=${busy} onClick=${() => reset(x)} aria-label=${`Reset ${x.name}`}>Reset</button>` : null) },
    ]} />`}<//>
  <//>`;
}
