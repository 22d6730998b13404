/** Agents and their runs (steps, tool calls, denials), and approvals: approve or reject held tool calls, live. */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { call } from "../api.ts";
import { ago, can, Field, html, Json, Link, Loading, Page, Panel, Status, Table, useAction, useApi } from "../ui.ts";

interface Agent {
  name: string;
  description: string;
  source: string;
  model: string | null;
  tools: string[];
  rules: { allow: string[]; ask: string[]; deny: string[]; default: string };
}
interface Run {
  id: string;
  agent: string;
  actor: string;
  status: string;
  input: string;
  output: string | null;
  error: string | null;
  steps: Step[];
  started_at: string;
}
type Step =
  | { type: "model"; content: string | null; tool_calls: { name: string; arguments: string }[] }
  | { type: "tool"; tool: string; arguments: unknown; decision: string; rule: string | null; gate_id: string | null; outcome: string; result: string };
interface Denial {
  id: number;
  at: string;
  agent: string;
  run_id: string;
  tool: string;
  source: string;
  reason: string;
}
interface Approval {
  id: string;
  run_id: string;
  agent: string;
  tool: string;
  arguments: unknown;
  status: string;
  requested_at: string;
  decided_by: string | null;
  note: string | null;
}

const RUN_EVENTS = ["agent_run", "approval_requested", "approval_decided"];

function InvokeForm(props: { agents: Agent[] }): VNode {
  const [busy, run] = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    await run(() => call<Run>(`/api/v1/agents/${encodeURIComponent(String(form.get("agent")))}/invoke`, { method: "POST", body: { input: String(form.get("input")) } }), (r) => `Run ${r.id}: ${r.status}`);
  };
  return html`<form class="inline-form" onSubmit=${submit}>
    <${Field} label="Agent"><select name="agent">${props.agents.map((a) => html`<option value=${a.name}>${a.name}</option>`)}</select><//>
    <${Field} label="Input"><input name="input" required /><//>
    <button type="submit" disabled=${busy}>Run agent</button>
  </form>`;
}

export function Agents(): VNode {
  const agents = useApi<{ agents: Agent[] }>("/api/v1/agents", { reloadOn: ["plugin_*"] });
  const runs = useApi<{ runs: Run[] }>("/api/v1/agents/runs", { query: { limit: 50 }, reloadOn: RUN_EVENTS });
  const denials = useApi<{ denials: Denial[] }>("/api/v1/permissions/denials", { query: { limit: 20 }, reloadOn: RUN_EVENTS });
  return html`<${Page} title="Agents">
    <${Panel} title="Agents">
      <${Loading} loaded=${agents}>${(a: { agents: Agent[] }) => html`<${Table} caption="Agents" rows=${a.agents} rowKey=${(x: Agent) => x.name} empty="No agents configured." columns=${[
        { label: "Name", render: (x: Agent) => html`<strong>${x.name}</strong> <small class="muted">${x.source}</small>` },
        { label: "Model", render: (x: Agent) => x.model ?? "default" },
        { label: "Tools", render: (x: Agent) => x.tools.join(", "), wide: true },
        { label: "Rules", render: (x: Agent) => `deny ${x.rules.deny.length} · ask ${x.rules.ask.length} · allow ${x.rules.allow.length} · else ${x.rules.default}`, wide: true },
      ]} />
      ${can("operator") && a.agents.length ? html`<${InvokeForm} agents=${a.agents} />` : null}`}<//>
    <//>
    <${Panel} title="Runs">
      <${Loading} loaded=${runs}>${(r: { runs: Run[] }) => html`<${Table} caption="Agent runs" rows=${r.runs} rowKey=${(x: Run) => x.id} empty="No runs yet." columns=${[
        { label: "Run", render: (x: Run) => html`<${Link} to=${`/agents/runs/${x.id}`}>${x.id.slice(0, 8)}<//>` },
        { label: "Agent", render: (x: Run) => x.agent },
        { label: "Status", render: (x: Run) => html`<${Status} value=${x.status} />` },
        { label: "Tool calls", render: (x: Run) => x.steps.filter((s) => s.type === "tool").length, wide: true },
        { label: "Started", render: (x: Run) => ago(x.started_at), wide: true },
      ]} />`}<//>
    <//>
    <${Panel} title="Denials">
      <${Loading} loaded=${denials}>${(d: { denials: Denial[] }) => html`<${Table} caption="Denied tool calls" rows=${d.denials} rowKey=${(x: Denial) => x.id} empty="No denied tool calls." columns=${[
        { label: "When", render: (x: Denial) => ago(x.at) }, { label: "Agent", render: (x: Denial) => x.agent },
        { label: "Tool", render: (x: Denial) => html`<code>${x.tool}</code>` }, { label: "Why", render: (x: Denial) => `${x.source}: ${x.reason}` },
      ]} />`}<//>
    <//>
  <//>`;
}

export function RunDetail(props: { id: string }): VNode {
  const run = useApi<Run>(`/api/v1/agents/runs/${encodeURIComponent(props.id)}`, { reloadOn: RUN_EVENTS });
  return html`<${Page} title=${`Run ${props.id.slice(0, 8)}`} actions=${html`<${Link} to="/agents">All runs<//>`}>
    <${Loading} loaded=${run}>${(r: Run) => html`<${Panel} title="Run">
      <dl class="facts"><dt>Agent</dt><dd>${r.agent}</dd><dt>Status</dt><dd><${Status} value=${r.status} /></dd><dt>By</dt><dd>${r.actor}</dd>
        <dt>Input</dt><dd>${r.input}</dd><dt>Output</dt><dd>${r.output ?? "—"}</dd>${r.error ? html`<dt>Error</dt><dd class="error">${r.error}</dd>` : null}</dl>
    <//>
    <${Panel} title="Steps">
      <ol class="steps">${r.steps.map((s, i) => s.type === "model"
        ? html`<li key=${i}><strong>model</strong> ${s.content ?? ""} ${s.tool_calls.map((c) => html`<div><code>${c.name}(${c.arguments})</code></div>`)}</li>`
        : html`<li key=${i}><strong>tool</strong> <code>${s.tool}</code> <${Status} value=${s.outcome === "ran" ? "succeeded" : s.outcome} /> decision ${s.decision}${s.rule ? ` (${s.rule})` : ""}
            <${Json} value=${s.result} label=${`Result of ${s.tool}`} /></li>`)}</ol>
    <//>`}<//>
  <//>`;
}

function Decide(props: { approval: Approval; onDone: () => void }): VNode {
  const [busy, run] = useAction();
  const [comment, setComment] = useState("");
  const decide = async (verb: "approve" | "reject") => {
    const body = verb === "approve" ? { comment: comment || undefined } : { reason: comment || undefined };
    if (await run(() => call(`/api/v1/approvals/${props.approval.id}/${verb}`, { method: "POST", body }), `${verb === "approve" ? "Approved" : "Rejected"} ${props.approval.tool}`)) props.onDone();
  };
  return html`<div class="decide">
    <${Field} label=${`Comment on ${props.approval.tool}`}><input value=${comment} onInput=${(e: Event) => setComment((e.target as HTMLInputElement).value)} /><//>
    <button type="button" disabled=${busy} onClick=${() => decide("approve")}>Approve</button>
    <button type="button" class="danger" disabled=${busy} onClick=${() => decide("reject")}>Reject</button>
  </div>`;
}

export function Approvals(): VNode {
  const pending = useApi<{ approvals: Approval[] }>("/api/v1/approvals", { query: { status: "pending" }, reloadOn: ["approval_requested", "approval_decided"] });
  const decided = useApi<{ approvals: Approval[] }>("/api/v1/approvals", { query: { limit: 30 }, reloadOn: ["approval_decided"] });
  const reload = () => {
    pending.reload();
    decided.reload();
  };
  return html`<${Page} title="Approvals">
    <${Panel} title="Waiting for a decision">
      <${Loading} loaded=${pending}>${(p: { approvals: Approval[] }) => p.approvals.length === 0 ? html`<p class="muted">Nothing is waiting.</p>` : html`<ul class="cards">${p.approvals.map((a) => html`<li key=${a.id} class="card" data-gate=${a.id}>
        <p><strong>${a.agent}</strong> wants to call <code>${a.tool}</code> <small class="muted">${ago(a.requested_at)} · <${Link} to=${`/agents/runs/${a.run_id}`}>run<//></small></p>
        <${Json} value=${a.arguments} label=${`Arguments of ${a.tool}`} />
        ${can("operator") ? html`<${Decide} approval=${a} onDone=${reload} />` : null}
      </li>`)}</ul>`}<//>
    <//>
    <${Panel} title="Recent decisions">
      <${Loading} loaded=${decided}>${(d: { approvals: Approval[] }) => html`<${Table} caption="Decided approvals" rows=${d.approvals.filter((a) => a.status !== "pending")} rowKey=${(a: Approval) => a.id} empty="No decisions yet." columns=${[
        { label: "Tool", render: (a: Approval) => html`<code>${a.tool}</code>` }, { label: "Agent", render: (a: Approval) => a.agent },
        { label: "Decision", render: (a: Approval) => html`<${Status} value=${a.status} />` }, { label: "By", render: (a: Approval) => a.decided_by ?? "—" },
        { label: "Comment", render: (a: Approval) => a.note ?? "", wide: true },
      ]} />`}<//>
    <//>
  <//>`;
}
