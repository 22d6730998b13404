/** Claude Code's Bash (a real shell, a child the kernel tracks: timeout, output cap, working directory) and WebFetch (no internal addresses unless allowed). */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { runShell, type PathGuard, type Spawner } from "gantry/plugin";
import { insideWorkspace } from "./file-tools.ts";
import type { Tool } from "./tool-catalog.ts";

export interface ShellWebSettings {
  workspaces: string[];
  /** gantry's path guard (ctx.paths): the shell starts in the workspace's real path. */
  paths: PathGuard;
  bashTimeoutS: number;
  bashMaxOutputChars: number;
  webFetchAllowInternal: boolean;
  webFetchMaxChars: number;
}

const MAX_REDIRECTS = 5;

/** Loopback, private, link-local, shared (CGNAT) and unspecified addresses, IPv4 and IPv6 (mapped IPv4 included). */
export function isInternalAddress(ip: string): boolean {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(ip);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
  }
  const v6 = ip.toLowerCase();
  return v6 === "::" || v6 === "::1" || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6);
}

async function assertPublic(url: URL): Promise<void> {
  if (!["http:", "https:"].includes(url.protocol)) throw new Error(`only http and https URLs are fetched, not ${url.protocol}`);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  const internal = addresses.find(isInternalAddress);
  if (internal) throw new Error(`${url.hostname} is an internal address (${internal}); set plugin.agent.web_fetch_allow_internal to reach it`);
}

/** HTML made readable: scripts and styles dropped, tags removed, whitespace folded. */
function readable(text: string, type: string): string {
  if (!type.includes("html")) return text;
  return text.replace(/<(script|style)[\s\S]*?<\/\1>/gi, "").replace(/<[^>]+>/g, " ").replace(/&nbsp;/g, " ").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/[ \t]+/g, " ").replace(/\n\s*\n+/g, "\n\n").trim();
}

/** `spawn`: where shells are children (the kept runner's); `signal`: aborts fetches when the plugin goes. */
export function shellWebTools(ctx: { spawn: Spawner; signal: AbortSignal }, settings: () => ShellWebSettings): Tool[] {
  return [
    {
      id: "Bash", source: "builtin", description: "Runs a shell command in the workspace (bash -c) and answers its output and exit code.",
      parameters: { type: "object", properties: { command: { type: "string" }, timeout: { type: "number", description: "milliseconds (capped by plugin.agent.bash_timeout_s)" }, description: { type: "string" } }, required: ["command"] },
      async run(args) {
        if (typeof args.command !== "string" || args.command.trim() === "") throw new Error("'command' is required (a string)");
        const s = settings();
        const cwd = insideWorkspace(s.paths, s.workspaces, ".").real;
        const timeoutMs = Math.min(s.bashTimeoutS * 1000, typeof args.timeout === "number" && args.timeout > 0 ? args.timeout : Infinity);
        const result = await runShell(ctx.spawn, args.command, { cwd, timeoutMs, maxOutputChars: s.bashMaxOutputChars, name: `Bash: ${args.command.slice(0, 40)}` });
        const parts = [result.stdout.trimEnd(), result.stderr.trimEnd()].filter(Boolean);
        if (result.truncated) parts.push(`[output cut at ${s.bashMaxOutputChars} characters]`);
        if (result.timedOut) parts.push(`[killed after ${timeoutMs} ms]`);
        else if (result.exitCode !== 0) parts.push(`[exit code ${result.exitCode}]`);
        return { text: parts.join("\n") || "(no output)", isError: result.timedOut || result.exitCode !== 0 };
      },
    },
    {
      id: "WebFetch", source: "builtin", description: "Fetches a URL (http or https) and answers its text; the prompt says what to look for in it.",
      parameters: { type: "object", properties: { url: { type: "string" }, prompt: { type: "string" } }, required: ["url"] },
      async run(args) {
        if (typeof args.url !== "string") throw new Error("'url' is required (a string)");
        const s = settings();
        let url = new URL(args.url);
        for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
          if (!s.webFetchAllowInternal) await assertPublic(url);
          const response = await fetch(url, { redirect: "manual", signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(30_000)]) });
          const location = response.headers.get("location");
          if (response.status >= 300 && response.status < 400 && location) {
            url = new URL(location, url);
            continue;
          }
          const text = readable(await response.text(), response.headers.get("content-type") ?? "");
          const clipped = text.length > s.webFetchMaxChars ? `${text.slice(0, s.webFetchMaxChars)}… [cut]` : text;
          const prompt = typeof args.prompt === "string" && args.prompt ? `Looking for: ${args.prompt}\n\n` : "";
          return { text: `${prompt}${url} answered ${response.status}:\n${clipped}`, isError: !response.ok };
        }
        return { text: `more than ${MAX_REDIRECTS} redirects`, isError: true };
      },
    },
  ];
}
