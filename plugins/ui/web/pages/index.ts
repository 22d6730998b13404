/** Which page a path under /ui shows. */
import type { VNode } from "preact";
import { html, Page } from "../ui.ts";
import { Audit, Config, Users } from "./admin.ts";
import { Agents, Approvals, RunDetail } from "./agents.ts";
import { InstanceDetail, Instances } from "./instances.ts";
import { Batch, Cache, Cron, CronJobRuns, Flags, Mcp } from "./operations.ts";
import { Overview } from "./overview.ts";
import { Playground } from "./playground.ts";
import { Commands, PluginDetail, Plugins } from "./plugins.ts";

const fixed: Record<string, () => VNode> = {
  "/": () => html`<${Overview} />`,
  "/instances": () => html`<${Instances} />`,
  "/playground": () => html`<${Playground} />`,
  "/plugins": () => html`<${Plugins} />`,
  "/commands": () => html`<${Commands} />`,
  "/agents": () => html`<${Agents} />`,
  "/approvals": () => html`<${Approvals} />`,
  "/cron": () => html`<${Cron} />`,
  "/batch": () => html`<${Batch} />`,
  "/cache": () => html`<${Cache} />`,
  "/mcp": () => html`<${Mcp} />`,
  "/flags": () => html`<${Flags} />`,
  "/users": () => html`<${Users} />`,
  "/audit": () => html`<${Audit} />`,
  "/config": () => html`<${Config} />`,
};

const withParam: [RegExp, (id: string) => VNode][] = [
  [/^\/instances\/([^/]+)$/, (name) => html`<${InstanceDetail} key=${name} name=${name} />`],
  [/^\/plugins\/([^/]+)$/, (name) => html`<${PluginDetail} key=${name} name=${name} />`],
  [/^\/agents\/runs\/([^/]+)$/, (id) => html`<${RunDetail} key=${id} id=${id} />`],
  [/^\/cron\/([^/]+)$/, (id) => html`<${CronJobRuns} key=${id} id=${id} />`],
];

export function pageFor(path: string, _query: URLSearchParams): VNode {
  const page = fixed[path.replace(/\/$/, "") || "/"];
  if (page) return page();
  for (const [pattern, render] of withParam) {
    const match = pattern.exec(path);
    if (match) return render(decodeURIComponent(match[1]!));
  }
  return html`<${Page} title="Not found"><p>No page at <code>/ui${path}</code>. <a href="/ui">Back to the overview</a>.</p><//>`;
}
