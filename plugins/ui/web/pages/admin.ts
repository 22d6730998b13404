/** Admin pages: users and API keys, the audit log with filters, and the running configuration (redacted) with reload. */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { call } from "../api.ts";
import { ago, Field, html, Json, Loading, Page, Panel, Status, Table, useAction, useApi } from "../ui.ts";

interface User {
  id: string;
  username: string;
  role: string;
  disabled: boolean;
  created_at: string;
}
interface Key {
  id: string;
  name: string;
  prefix: string;
  role: string;
  created_at: string;
  revoked_at: string | null;
}
const ROLES = ["viewer", "operator", "admin"];
const roleSelect = (name = "role") => html`<select name=${name}>${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select>`;

export function Users(): VNode {
  const users = useApi<{ users: User[] }>("/api/v1/auth/users");
  const keys = useApi<{ keys: Key[] }>("/api/v1/auth/keys");
  const [busy, run] = useAction();
  const [secret, setSecret] = useState<string | null>(null);
  const submit = (work: (f: FormData) => Promise<unknown>, done: () => void, message: string) => async (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    if (await run(() => work(new FormData(form)), message)) {
      form.reset();
      done();
    }
  };
  const addUser = submit((f) => call("/api/v1/auth/users", { method: "POST", body: { username: f.get("username"), password: f.get("password"), role: f.get("role") } }), users.reload, "User created");
  const addKey = submit(async (f) => {
    const created = await call<{ key: string }>("/api/v1/auth/keys", { method: "POST", body: { name: f.get("name"), role: f.get("role") } });
    setSecret(created.key);
    return created;
  }, keys.reload, "API key created");
  const patch = (u: User, body: Record<string, unknown>) => run(() => call(`/api/v1/auth/users/${u.id}`, { method: "PATCH", body }), `${u.username} updated`).then(users.reload);
  return html`<${Page} title="Users and API keys">
    <${Panel} title="Users">
      <${Loading} loaded=${users}>${(u: { users: User[] }) => html`<${Table} caption="Users" rows=${u.users} rowKey=${(x: User) => x.id} columns=${[
        { label: "User", render: (x: User) => x.username },
        { label: "Role", render: (x: User) => html`<label class="sr-only" for=${`role-${x.id}`}>Role of ${x.username}</label><select id=${`role-${x.id}`} value=${x.role} disabled=${busy} onChange=${(e: Event) => patch(x, { role: (e.target as HTMLSelectElement).value })}>${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select>` },
        { label: "State", render: (x: User) => html`<${Status} value=${x.disabled ? "disabled" : "active"} />` },
        { label: "Actions", render: (x: User) => html`<button type="button" class="ghost" disabled=${busy} onClick=${() => patch(x, { disabled: !x.disabled })}>${x.disabled ? "Enable" : "Disable"} <span class="sr-only">${x.username}</span></button>` },
      ]} />`}<//>
      <form class="form-grid" onSubmit=${addUser} aria-label="Create a user">
        <${Field} label="Username"><input name="username" required autocomplete="off" /><//>
        <${Field} label="Password"><input name="password" type="password" required minlength="8" autocomplete="new-password" /><//>
        <${Field} label="Role">${roleSelect()}<//>
        <div><button type="submit" disabled=${busy}>Create user</button></div>
      </form>
    <//>
    <${Panel} title="API keys">
      ${secret ? html`<div class="card" role="alert"><p>Copy the new key now; it is not shown again.</p><${Json} value=${secret} label="New API key" /></div>` : null}
      <${Loading} loaded=${keys}>${(k: { keys: Key[] }) => html`<${Table} caption="API keys" rows=${k.keys} rowKey=${(x: Key) => x.id} columns=${[
        { label: "Name", render: (x: Key) => x.name }, { label: "Prefix", render: (x: Key) => html`<code>${x.prefix}</code>`, wide: true },
        { label: "Role", render: (x: Key) => x.role }, { label: "Created", render: (x: Key) => ago(x.created_at), wide: true },
        { label: "State", render: (x: Key) => x.revoked_at ? html`<${Status} value="disabled" />` : html`<button type="button" class="danger" disabled=${busy} onClick=${() => confirm(`Revoke ${x.name}?`) && run(() => call(`/api/v1/auth/keys/${x.id}`, { method: "DELETE" }), `${x.name} revoked`).then(keys.reload)}>Revoke <span class="sr-only">${x.name}</span></button>` },
      ]} />`}<//>
      <form class="form-grid" onSubmit=${addKey} aria-label="Create an API key">
        <${Field} label="Key name"><input name="name" required /><//>
        <${Field} label="Key role">${roleSelect()}<//>
        <div><button type="submit" disabled=${busy}>Create key</button></div>
      </form>
    <//>
  <//>`;
}

interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  role: string;
  action: string;
  route: string;
  target: string | null;
  status: number;
}

export function Audit(): VNode {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const entries = useApi<{ entries: AuditEntry[] }>("/api/v1/audit", { query: { ...filters, limit: 100 } });
  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setFilters(Object.fromEntries([...form].map(([k, v]) => [k, String(v)]).filter(([, v]) => v !== "")));
  };
  return html`<${Page} title="Audit log">
    <form class="form-grid" onSubmit=${apply} aria-label="Filter the audit log">
      <${Field} label="Actor"><input name="actor" /><//>
      <${Field} label="Action"><input name="action" /><//>
      <${Field} label="Status"><input name="status" inputmode="numeric" /><//>
      <${Field} label="Since"><input name="since" type="datetime-local" /><//>
      <div><button type="submit">Filter</button></div>
    </form>
    <${Loading} loaded=${entries}>${(e: { entries: AuditEntry[] }) => html`<${Table} caption="Audit entries" rows=${e.entries} rowKey=${(x: AuditEntry) => x.id} empty="No entries match." columns=${[
      { label: "When", render: (x: AuditEntry) => html`<time datetime=${x.at}>${ago(x.at)}</time>` }, { label: "Actor", render: (x: AuditEntry) => `${x.actor} (${x.role})` },
      { label: "Action", render: (x: AuditEntry) => html`<code>${x.action}</code>` }, { label: "Target", render: (x: AuditEntry) => x.target ?? "", wide: true },
      { label: "Status", render: (x: AuditEntry) => x.status },
    ]} />`}<//>
  <//>`;
}

export function Config(): VNode {
  const config = useApi<Record<string, unknown>>("/api/v1/infra/config");
  const [busy, run] = useAction();
  const [result, setResult] = useState<unknown>(null);
  const reload = async () => {
    const answer = await run(() => call("/api/v1/infra/config/reload", { method: "POST" }), "Configuration reloaded");
    if (answer !== undefined) {
      setResult(answer);
      config.reload();
    }
  };
  return html`<${Page} title="Configuration" actions=${html`<button type="button" disabled=${busy} onClick=${reload}>Reload configuration</button>`}>
    ${result ? html`<${Panel} title="Reload result"><${Json} value=${result} label="Reload result" /><//>` : null}
    <${Panel} title="Running configuration (secrets redacted)"><${Loading} loaded=${config}>${(c: Record<string, unknown>) => html`<${Json} value=${c} label="Configuration" />`}<//><//>
  <//>`;
}
