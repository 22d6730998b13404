/** Runs one shell line through a plugin's `ctx.spawn`, with a timeout and a cap on what it prints (Bash tool, hooks, `!`cmd`` lines). */
import type { ChildStdin } from "../runtime/index.ts";
import { carriesSecret, isSecretName } from "./redact.ts";
import type { SpawnedProcess, SpawnOptions } from "./processes.ts";

/** `ctx.spawn` (or a kept resource's `scope.spawn`): children in their own process group, tracked by the kernel. */
export type Spawner = (command: string[], options?: SpawnOptions) => SpawnedProcess;

export interface ShellResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** True when stdout or stderr was cut at maxOutputChars. */
  truncated: boolean;
}

export interface ShellOptions {
  cwd?: string;
  /** Default: shellEnvironment(). */
  env?: Record<string, string | undefined>;
  /** Written to the child's stdin, then closed (hooks get Claude Code's JSON this way). */
  stdin?: string;
  /** Positional parameters ($1, $2, ...): values bash never parses. */
  args?: string[];
  timeoutMs: number;
  maxOutputChars: number;
  /** A label for the process listing. */
  name?: string;
}

/**
 * gantry's environment as shells started for plugins see it: without gantry's own settings, without
 * variables named like secrets, and without variables whose values hold one (`DB_URL=postgres://u:pw@…`,
 * a token in a query string, a key, a JWT): dropped rather than redacted, so no tool gets a broken credential.
 */
export function shellEnvironment(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const kept = Object.entries(process.env).filter(([name, value]) => !name.startsWith("GANTRY_") && !isSecretName(name) && !carriesSecret(value ?? ""));
  return { ...Object.fromEntries(kept), ...extra };
}

/** Reads a stream up to `max` characters, draining the rest so the child never blocks on a full pipe. */
async function readCapped(stream: ReadableStream<Uint8Array> | undefined, max: number): Promise<{ text: string; cut: boolean }> {
  if (!stream) return { text: "", cut: false };
  const decoder = new TextDecoder();
  let text = "";
  let cut = false;
  for await (const chunk of stream) {
    if (text.length < max) text += decoder.decode(chunk, { stream: true });
    else cut = true;
  }
  if (text.length > max) {
    text = text.slice(0, max);
    cut = true;
  }
  return { text, cut };
}

/** `bash -c line` (with `bash args...` when given) in its own process group (ctx.spawn gives every child one); on timeout the whole group gets SIGKILL. */
export async function runShell(spawn: Spawner, line: string, options: ShellOptions): Promise<ShellResult> {
  const child = spawn(["bash", "-c", line, ...(options.args ? ["bash", ...options.args] : [])], {
    name: options.name ?? "bash", cwd: options.cwd, env: options.env ?? shellEnvironment(),
    stdin: options.stdin === undefined ? "ignore" : "pipe", stdout: "pipe", stderr: "pipe", killTimeoutMs: 500,
  });
  const proc = child.subprocess;
  if (options.stdin !== undefined) {
    const sink = proc.stdin as ChildStdin;
    try {
      sink.write(options.stdin);
      await sink.end();
    } catch {
      // the child exited without reading its input
    }
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutMs);
  try {
    const [out, err] = await Promise.all([
      readCapped(proc.stdout as ReadableStream<Uint8Array>, options.maxOutputChars),
      readCapped(proc.stderr as ReadableStream<Uint8Array>, options.maxOutputChars),
    ]);
    const exitCode = await child.exited;
    return { exitCode: timedOut ? null : exitCode, stdout: out.text, stderr: err.text, timedOut, truncated: out.cut || err.cut };
  } finally {
    clearTimeout(timer);
  }
}
