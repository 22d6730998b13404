/** Plugins (install from a path or a Claude Code marketplace, reload, enable/disable, uninstall, install drops, unsupported parts) and slash commands (run with arguments). */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { call } from "../api.ts";
import { ago, can, Field, html, Json, Link, Loading, Page, Panel, Status, Table, useAction, useApi } from "../ui.ts";

interface Plugin {
  name: string;
  version: string | null;
  description: string | null;
  status: string;
  source: string;
  path: string;
  depends_on: string[];
  loaded_at: string | null;
  error: { code: string; message: string } | null;
  install_drops?: { kind: string; name: string }[];
  unsupported?: { part: string; reason: string }[];
}

interface MarketplaceEntry { name: string; description: string | null; version: string | null; source: string; installable: boolean; reason: string | null }
interface MarketplaceListing { marketplace: string; path: string; plugins: MarketplaceEntry[] }
const isListing = (x: Plugin | MarketplaceListing): x is MarketplaceListing => "marketplace" in x;

const RELOAD_EVENTS = ["plugin_installed", "plugin_reloaded", "plugin_uninstalled"];
const pluginPath = (name: string) => `/api/v1/plugins/${encodeURIComponent(name)}`;

function PluginActions(props: { plugin: Plugin; onDone: () => void }): VNode | null {
  const [busy, run] = useAction();
  if (!can("admin")) return null;
  const { name, status } = props.plugin;
  const act = async (what: string, work: () => Promise<unknown>) => {
    if (await run(work, `${name}: ${what}`)) props.onDone();
  };
  return html`<span class="row-actions">
    <button type="button" disabled=${busy || status === "disabled"} aria-label=${`Reload ${name}`} onClick=${() => act("reloaded", () => call(`${pluginPath(name)}/reload`, { method: "POST" }))}>Reload</button>
    ${status === "disabled"
      ? html`<button type="button" class="ghost" disabled=${busy} aria-label=${`Enable ${name}`} onClick=${() => act("enabled", () => call(`${pluginPath(name)}/enable`, { method: "POST" }))}>Enable</button>`
      : html`<button type="button" class="ghost" disabled=${busy} aria-label=${`Disable ${name}`} onClick=${() => act("disabled", () => call(`${pluginPath(name)}/disable`, { method: "POST" }))}>Disable</button>`}
    <button type="button" class="danger" disabled=${busy} aria-label=${`Uninstall ${name}`} onClick=${() => confirm(`Uninstall ${name}? Everything it registered is removed.`) && act("uninstalled", () => call(pluginPath(name), { method: "DELETE" }))}>Uninstall</button>
  </span>`;
}

export function Plugins(): VNode {
  const plugins = useApi<{ plugins: Plugin[] }>("/api/v1/plugins", { reloadOn: RELOAD_EVENTS });
  const [busy, run] = useAction();
  const [listing, setListing] = useState<MarketplaceListing | null>(null);
  // The install endpoint answers a plugin, or, for a marketplace folder given without a plugin name, its listing.
  const installFrom = async (body: { path: string; plugin?: string }, form?: HTMLFormElement) => {
    const done = await run(() => call<Plugin | MarketplaceListing>("/api/v1/plugins", { method: "POST", body }),
      (p) => isListing(p) ? `Marketplace ${p.marketplace}: ${p.plugins.length} plugins` : `Installed ${p.name}`);
    if (done === undefined) return;
    if (isListing(done)) { setListing(done); return; }
    form?.reset();
    plugins.reload();
  };
  const install = async (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const plugin = String(data.get("plugin") ?? "").trim();
    await installFrom({ path: String(data.get("path")), ...(plugin ? { plugin } : {}) }, form);
  };
  return html`<${Page} title="Plugins">
    <${Panel} title="Installed">
      <${Loading} loaded=${plugins}>${(p: { plugins: Plugin[] }) => html`<${Table} caption="Plugins" rows=${p.plugins} rowKey=${(x: Plugin) => x.name} columns=${[
        { label: "Name", render: (x: Plugin) => html`<${Link} to=${`/plugins/${encodeURIComponent(x.name)}`}>${x.name}<//> <small class="muted">${x.version ?? ""}</small>` },
        { label: "Status", render: (x: Plugin) => html`<${Status} value=${x.status} />${x.error ? html` <small class="error">${x.error.message}</small>` : null}` },
        { label: "Source", render: (x: Plugin) => x.source, wide: true },
        { label: "Loaded", render: (x: Plugin) => html`<span data-loaded=${x.name}>${ago(x.loaded_at)}</span>`, wide: true },
        { label: "Actions", render: (x: Plugin) => html`<${PluginActions} plugin=${x} onDone=${plugins.reload} />` },
      ]} />`}<//>
    <//>
    ${can("admin") ? html`<${Panel} title="Install from a path">
      <form class="inline-form" onSubmit=${install}>
        <${Field} label="Folder on the server" hint="with plugin.json, a Claude Code plugin, or a marketplace (.claude-plugin/marketplace.json)"><input name="path" required /><//>
        <${Field} label="Plugin of the marketplace" hint="optional: without it a marketplace's plugins are listed"><input name="plugin" /><//>
        <button type="submit" disabled=${busy}>Install</button>
      </form>
    <//>` : null}
    ${listing ? html`<${Panel} title=${`Marketplace ${listing.marketplace}`}>
      <${Table} caption=${`Plugins of marketplace ${listing.marketplace}`} rows=${listing.plugins} rowKey=${(x: MarketplaceEntry) => x.name} columns=${[
        { label: "Name", render: (x: MarketplaceEntry) => html`${x.name} <small class="muted">${x.version ?? ""}</small>` },
        { label: "Description", render: (x: MarketplaceEntry) => x.description ?? "", wide: true },
        { label: "Install", render: (x: MarketplaceEntry) => x.installable
          ? html`<button type="button" disabled=${busy} aria-label=${`Install ${x.name} from the marketplace`} onClick=${() => installFrom({ path: listing.path, plugin: x.name })}>Install</button>`
          : html`<small class="muted">${x.reason ?? "cannot be installed here"}</small>` },
      ]} />
    <//>` : null}
  <//>`;
}

export function PluginDetail(props: { name: string }): VNode {
  const plugin = useApi<Plugin>(pluginPath(props.name), { reloadOn: RELOAD_EVENTS });
  return html`<${Page} title=${`Plugin ${props.name}`} actions=${html`<${Link} to="/plugins">All plugins<//>`}>
    <${Loading} loaded=${plugin}>${(p: Plugin) => html`<${Panel} title="Detail" actions=${html`<${PluginActions} plugin=${p} onDone=${plugin.reload} />`}>
      <dl class="facts"><dt>Status</dt><dd><${Status} value=${p.status} /></dd><dt>Version</dt><dd>${p.version ?? "—"}</dd>
        <dt>Description</dt><dd>${p.description ?? "—"}</dd><dt>Path</dt><dd><code>${p.path}</code></dd>
        <dt>Depends on</dt><dd>${p.depends_on.join(", ") || "—"}</dd><dt>Loaded</dt><dd>${ago(p.loaded_at)}</dd></dl>
      ${p.error ? html`<p class="error" role="alert">${p.error.code}: ${p.error.message}</p>` : null}
    <//>
    ${(p.unsupported ?? []).length ? html`<${Panel} title="Unsupported parts">
      <p class="muted">Parts of this plugin that gantry cannot honour; everything else works.</p>
      <${Table} caption="Unsupported parts" rows=${p.unsupported ?? []} rowKey=${(u: { part: string }) => u.part} columns=${[
        { label: "Part", render: (u: { part: string }) => html`<code>${u.part}</code>` }, { label: "Why", render: (u: { reason: string }) => u.reason },
      ]} />
    <//>` : null}
    <${Panel} title="Install drops">
      <p class="muted">Everything the plugin registered; reload and uninstall remove all of it.</p>
      <${Table} caption="Install drops" rows=${p.install_drops ?? []} rowKey=${(d: { kind: string; name: string }) => `${d.kind}:${d.name}`} columns=${[
        { label: "Kind", render: (d: { kind: string }) => d.kind }, { label: "Name", render: (d: { name: string }) => html`<code>${d.name}</code>` },
      ]} />
    <//>`}<//>
  <//>`;
}

interface Command {
  qname: string;
  kind: string;
  description: string;
  argument_hint: string | null;
}

function RunCommand(props: { command: Command }): VNode {
  const [busy, run] = useAction();
  const [output, setOutput] = useState<unknown>(undefined);
  const submit = async (event: Event) => {
    event.preventDefault();
    const args = String(new FormData(event.target as HTMLFormElement).get("arguments") ?? "");
    const result = await run(() => call(`/api/v1/plugins/commands/${encodeURIComponent(props.command.qname)}/invoke`, { method: "POST", body: { arguments: args } }));
    if (result !== undefined) setOutput(result);
  };
  return html`<form class="inline-form" onSubmit=${submit}>
      <${Field} label=${`Arguments for /${props.command.qname}`} hint=${props.command.argument_hint ?? undefined}><input name="arguments" /><//>
      <button type="submit" disabled=${busy}>Run</button>
    </form>
    ${output !== undefined ? html`<${Json} value=${output} label=${`Output of /${props.command.qname}`} />` : null}`;
}

export function Commands(): VNode {
  const commands = useApi<{ commands: Command[] }>("/api/v1/plugins/commands", { reloadOn: RELOAD_EVENTS });
  const [open, setOpen] = useState<string | null>(null);
  return html`<${Page} title="Slash commands">
    <${Loading} loaded=${commands}>${(c: { commands: Command[] }) => html`<${Table} caption="Slash commands" rows=${c.commands} rowKey=${(x: Command) => x.qname} columns=${[
      { label: "Command", render: (x: Command) => html`<code>/${x.qname}</code> <small class="muted">${x.argument_hint ?? ""}</small>` },
      { label: "Kind", render: (x: Command) => x.kind, wide: true },
      { label: "Description", render: (x: Command) => x.description },
      { label: "Run", render: (x: Command) => can("operator") ? html`<button type="button" class="ghost" aria-expanded=${open === x.qname} onClick=${() => setOpen(open === x.qname ? null : x.qname)}>${open === x.qname ? "Close" : "Run…"}</button>` : null },
    ]} />
    ${open ? html`<${Panel} title=${`Run /${open}`}><${RunCommand} command=${c.commands.find((x) => x.qname === open)!} /><//>` : null}`}<//>
  <//>`;
}
