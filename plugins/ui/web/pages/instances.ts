/** Instances: the list with start/stop/restart, a create form, and one instance's health and live logs. */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { call } from "../api.ts";
import { navigate } from "../router.ts";
import { bytes, can, duration, Field, html, Json, Link, Loading, Page, Panel, percent, Status, Table, useAction, useApi } from "../ui.ts";
import { deviceOf, useInstances } from "./overview.ts";
import { LogView } from "./logs.ts";

export interface Instance {
  name: string;
  status: string;
  backend: string;
  model_path: string;
  port: number;
  pid: number | null;
  options: Record<string, unknown>;
  env: Record<string, string>;
  command: string[] | null;
  on_demand_start: boolean;
  restart: string;
  restarts: number;
  last_error: string | null;
  /** declared: from [models.<name>] in gantry.toml (changed there, not here); api: created through the API. */
  origin: "declared" | "api";
  /** Declared fields a running instance lacks, applied when it stops (`removed`: its table is gone). */
  config_differs: string[];
  stats: { memory_usage: number; cpu_usage: number; cpu_seconds: number; processes: number; uptime: number };
}

const path = (name: string) => `/api/v1/instances/${encodeURIComponent(name)}`;

function Actions(props: { instance: Instance }): VNode | null {
  const [busy, run] = useAction();
  if (!can("operator")) return null;
  const { name, status } = props.instance;
  const act = (verb: "start" | "stop" | "restart") => run(() => call(`${path(name)}/${verb}`, { method: "POST", ...(verb === "stop" ? { body: {} } : {}) }), `${name}: ${verb} done`);
  const stopped = status === "stopped" || status === "failed";
  return html`<span class="row-actions">
    ${stopped ? html`<button type="button" disabled=${busy} onClick=${() => act("start")} aria-label=${`Start ${name}`}>Start</button>` : null}
    ${!stopped ? html`<button type="button" disabled=${busy} onClick=${() => act("stop")} aria-label=${`Stop ${name}`}>Stop</button>` : null}
    ${status === "running" ? html`<button type="button" class="ghost" disabled=${busy} onClick=${() => act("restart")} aria-label=${`Restart ${name}`}>Restart</button>` : null}
  </span>`;
}

/** `a b "c d"`-style command lines are split on spaces; a JSON array is taken as is. */
function commandOf(text: string): string[] | undefined {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  if (trimmed.startsWith("[")) return JSON.parse(trimmed) as string[];
  return trimmed.split(/\s+/);
}

function CreateForm(props: { onCreated: () => void }): VNode {
  const [busy, run] = useAction();
  const [backend, setBackend] = useState("llama_cpp");
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const body: Record<string, unknown> = {
      name: String(form.get("name")), backend, model_path: String(form.get("model_path")),
      on_demand_start: form.get("on_demand_start") === "on", restart: String(form.get("restart")),
    };
    const port = String(form.get("port") ?? "").trim();
    if (port) body.port = Number(port);
    const done = await run(async () => {
      const command = commandOf(String(form.get("command") ?? ""));
      if (command) body.command = command;
      return call("/api/v1/instances", { method: "POST", body });
    }, `Instance ${body.name} created`);
    if (done) {
      (event.target as HTMLFormElement).reset();
      props.onCreated();
    }
  };
  return html`<form class="form-grid" onSubmit=${submit} aria-label="Create an instance">
    <${Field} label="Name"><input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}" /><//>
    <${Field} label="Backend"><select name="backend" value=${backend} onChange=${(e: Event) => setBackend((e.target as HTMLSelectElement).value)}>
      ${["llama_cpp", "vllm", "mlx_lm", "command"].map((b) => html`<option value=${b}>${b}</option>`)}</select><//>
    <${Field} label="Model path" hint="a model file, or the model name the server loads"><input name="model_path" required /><//>
    <${Field} label="Port" hint="empty: the next free port in the configured range"><input name="port" inputmode="numeric" pattern="[0-9]*" /><//>
    ${backend === "command" ? html`<${Field} label="Command" hint="{port} and {model} are filled in; a JSON array keeps spaces"><input name="command" required /><//>` : null}
    <${Field} label="Restart"><select name="restart">${["on-failure", "always", "never"].map((r) => html`<option value=${r}>${r}</option>`)}</select><//>
    <label class="check"><input type="checkbox" name="on_demand_start" /> Start on first request</label>
    <div><button type="submit" disabled=${busy}>Create instance</button></div>
  </form>`;
}

const TOML_EXAMPLE = `name = "qwen-7b"
backend = "llama_cpp"
model_path = "/models/qwen2.5-7b-instruct-q4_k_m.gguf"
on_demand_start = true

[options]
ctx-size = 8192
n-gpu-layers = 99`;

/** The same fields as the form (and the API's body), written as TOML: handy for copying an instance between machines. */
function TomlForm(props: { onCreated: () => void }): VNode {
  const [busy, run] = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const text = String(new FormData(form).get("toml"));
    const created = await run(async () => {
      const { parse } = await import("smol-toml");
      const body = parse(text);
      return call<{ instance: { name: string } }>("/api/v1/instances", { method: "POST", body });
    }, (r) => `Instance ${r.instance.name} created`);
    if (created) {
      form.reset();
      props.onCreated();
    }
  };
  return html`<form onSubmit=${submit} aria-label="Create an instance from TOML">
    <${Field} label="Instance as TOML" hint="keys as in the API: name, backend, model_path, port, command, options, env, on_demand_start, idle_timeout, restart"><textarea name="toml" rows="9" required placeholder=${TOML_EXAMPLE}></textarea><//>
    <p><button type="submit" disabled=${busy}>Create from TOML</button></p>
  </form>`;
}

export function Instances(): VNode {
  const instances = useInstances();
  return html`<${Page} title="Instances">
    <${Panel} title="All instances">
      <${Loading} loaded=${instances}>${(list: Instance[]) => html`<${Table} caption="Instances" rows=${list} rowKey=${(i: Instance) => i.name} empty="No instances yet." columns=${[
        { label: "Name", render: (i: Instance) => html`<${Link} to=${`/instances/${encodeURIComponent(i.name)}`}>${i.name}<//>` },
        { label: "Status", render: (i: Instance) => html`<span data-instance-status=${i.name}><${Status} value=${i.status} /></span>` },
        { label: "Backend", render: (i: Instance) => i.backend, wide: true },
        { label: "Port", render: (i: Instance) => i.port, wide: true },
        { label: "Memory", render: (i: Instance) => bytes(i.stats.memory_usage) },
        { label: "CPU", render: (i: Instance) => percent(i.stats.cpu_usage), wide: true },
        { label: "Actions", render: (i: Instance) => html`<${Actions} instance=${i} />` },
      ]} />`}<//>
    <//>
    ${can("admin") ? html`<${Panel} title="Create an instance"><${CreateForm} onCreated=${instances.reload} /><details><summary>Or paste TOML</summary><${TomlForm} onCreated=${instances.reload} /></details><//>` : null}
  <//>`;
}

interface Health {
  status: string;
  checks: Record<string, string>;
  last_check: string | null;
}

export function InstanceDetail(props: { name: string }): VNode {
  const instance = useApi<Instance>(path(props.name), { reloadOn: ["instance_status_changed", "instance_stats_updated"] });
  const [health, setHealth] = useState<Health | null>(null);
  const [busy, run] = useAction();
  const remove = async () => {
    if (!confirm(`Delete instance ${props.name}?`)) return;
    if (await run(() => call(path(props.name), { method: "DELETE" }), `Instance ${props.name} deleted`)) navigate("/instances");
  };
  return html`<${Page} title=${`Instance ${props.name}`} actions=${html`<${Link} to="/instances">All instances<//>`}>
    <${Loading} loaded=${instance}>${(i: Instance) => html`<${Panel} title="State" actions=${html`<${Actions} instance=${i} />`}>
      <dl class="facts">
        <dt>Status</dt><dd data-instance-status=${i.name}><${Status} value=${i.status} /></dd>
        <dt>Backend</dt><dd>${i.backend}</dd><dt>Model</dt><dd>${i.model_path}</dd>
        <dt>Port</dt><dd>${i.port}</dd><dt>PID</dt><dd>${i.pid ?? "—"}</dd><dt>Device</dt><dd>${deviceOf(i)}</dd>
        <dt>Memory</dt><dd>${bytes(i.stats.memory_usage)}</dd><dt>CPU</dt><dd>${percent(i.stats.cpu_usage)}</dd>
        <dt>Uptime</dt><dd>${i.status === "running" ? duration(i.stats.uptime) : "—"}</dd><dt>Restarts</dt><dd>${i.restarts}</dd>
        ${i.last_error ? html`<dt>Last error</dt><dd class="error">${i.last_error}</dd>` : null}
        <dt>Defined</dt><dd>${i.origin === "declared" ? html`in gantry.toml (<code>[models.${i.name}]</code>): change it there` : "through the API"}</dd>
        ${i.config_differs.length > 0 ? html`<dt>Differs from gantry.toml</dt><dd>${i.config_differs.includes("removed") ? "its table was removed: it is deleted when it stops" : `${i.config_differs.join(", ")}: applied when it stops`}</dd>` : null}
      </dl>
      <p class="row-actions">
        <button type="button" class="ghost" disabled=${busy} onClick=${() => run(async () => setHealth(await call<Health>(`${path(props.name)}/health`)))}>Check health</button>
        ${can("admin") && i.origin === "api" && (i.status === "stopped" || i.status === "failed") ? html`<button type="button" class="danger" disabled=${busy} onClick=${remove}>Delete</button>` : null}
      </p>
      ${health ? html`<p>Health: <${Status} value=${health.status} /> process ${health.checks.process}, port ${health.checks.port}, response ${health.checks.response}</p>` : null}
      ${i.command ? html`<details><summary>Command</summary><${Json} value=${i.command.join(" ")} label="Command line" /></details>` : null}
    <//>`}<//>
    <${Panel} title="Logs"><${LogView} name=${props.name} /><//>
  <//>`;
}
