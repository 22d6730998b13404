/** Claude Code's Bash (a real shell, a child the kernel tracks: timeout, output cap, working directory) and WebFetch (through core's outbound guard). */
import { runShell, type CoreOutboundService, type PathGuard, type Spawner } from "gantry/plugin";
import { insideWorkspace } from "./file-tools.ts";
import type { Tool } from "./tool-catalog.ts";

export interface ShellWebSettings {
  workspaces: string[];
  /** gantry's path guard (ctx.paths): the shell starts in the workspace's real path. */
  paths: PathGuard;
  bashTimeoutS: number;
  bashMaxOutputChars: number;
  webFetchMaxChars: number;
}

/** HTML made readable: scripts and styles dropped, tags removed, whitespace folded. */
function readable(text: string, type: string): string {
  if (!type.includes("html")) return text;
  return text.replace(/<(script|style)[\s\S]*?<\/\1>/gi, "").replace(/<[^>]+>/g, " ").replace(/&nbsp;/g, " ").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/[ \t]+/g, " ").replace(/\n\s*\n+/g, "\n\n").trim();
}

/** `spawn`: where shells are children (the kept runner's); `signal`: aborts fetches when the plugin goes; `outbound`: core's guard (outbound.allow). */
export function shellWebTools(ctx: { spawn: Spawner; signal: AbortSignal; outbound: CoreOutboundService }, settings: () => ShellWebSettings): Tool[] {
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
        // Every hop is resolved and checked (loopback, private, link-local, ... refused unless outbound.allow lists them).
        const response = await ctx.outbound.fetch(args.url, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(30_000)]) });
        const text = readable(await response.text(), response.headers.get("content-type") ?? "");
        const clipped = text.length > s.webFetchMaxChars ? `${text.slice(0, s.webFetchMaxChars)}… [cut]` : text;
        const prompt = typeof args.prompt === "string" && args.prompt ? `Looking for: ${args.prompt}\n\n` : "";
        return { text: `${prompt}${response.url} answered ${response.status}:\n${clipped}`, isError: !response.ok };
      },
    },
  ];
}
