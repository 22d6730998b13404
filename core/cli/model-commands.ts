/** The CLI for models, as Ollama users type it: ps, run, stop, logs, pull, models (list, export, files). */
import { createInterface } from "node:readline";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { ApiClient, CliError } from "./api-client.ts";
import { formatBytes as bytes, textTable } from "../kernel/text-table.ts";

interface Instance {
  name: string; status: string; backend: string; model_path: string; port: number; pid: number | null; aliases: string[];
  origin: string; config_differs: string[]; on_demand_start: boolean; stats: { memory_usage: number; uptime: number };
}

interface Flags { url?: string; key?: string; json?: boolean; follow?: boolean; lines?: string }

type Parsed = { values: Flags; positionals: string[] };

const path = (name: string) => `/api/v1/instances/${encodeURIComponent(name)}`;

/** A model id as the user typed it → the instance: its name, or one of its aliases. */
async function instanceOf(client: ApiClient, model: string | undefined, usage: string): Promise<Instance> {
  if (!model) throw new CliError(`missing model name\n\n${usage}`, 2);
  const { instances } = await client.request<{ instances: Instance[] }>("GET", "/api/v1/instances");
  const found = instances.find((i) => i.name === model) ?? instances.find((i) => i.aliases.includes(model) || `${i.name}:latest` === model);
  if (!found) throw new CliError(`No model '${model}' (list them with \`gantry models\`)`);
  return found;
}

function print(value: unknown, asJson: boolean | undefined, text: () => string): void {
  process.stdout.write(asJson ? JSON.stringify(value, null, 2) + "\n" : text() + "\n");
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
}

/** The `data:` payloads of a server-sent event stream. */
async function* sseData(res: Response): AsyncGenerator<string> {
  const events = res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  for await (const event of events) yield event.data;
}

async function ps({ values }: Parsed): Promise<void> {
  const { instances } = await new ApiClient(values).request<{ instances: Instance[] }>("GET", "/api/v1/instances");
  const live = instances.filter((i) => i.status !== "stopped" && i.status !== "failed");
  print(live, values.json, () => live.length === 0 ? "No model is running" : textTable([
    ["NAME", "STATUS", "BACKEND", "PORT", "PID", "MEMORY", "UPTIME"],
    ...live.map((i) => [i.name, i.status, i.backend, String(i.port), String(i.pid ?? "-"), bytes(i.stats.memory_usage), duration(i.stats.uptime)]),
  ]));
}

async function models({ values, positionals }: Parsed): Promise<void> {
  const client = new ApiClient(values);
  const [action] = positionals;
  if (action === "export") {
    process.stdout.write(await client.request<string>("GET", "/api/v1/models/export"));
    return;
  }
  if (action === "files") {
    const { files } = await client.request<{ files: { name: string; size: number; sha256: string | null; used_by: string[] }[] }>("GET", "/api/v1/models/files");
    return print(files, values.json, () => files.length === 0 ? "No model files in models_dir" : textTable([
      ["NAME", "SIZE", "SHA256", "USED BY"], ...files.map((f) => [f.name, bytes(f.size), f.sha256?.slice(0, 12) ?? "-", f.used_by.join(", ") || "-"]),
    ]));
  }
  if (action !== undefined && action !== "list") throw new CliError(`unknown models action '${action}'\n\n${MODEL_HELP.models}`, 2);
  const { instances } = await client.request<{ instances: Instance[] }>("GET", "/api/v1/instances");
  print(instances, values.json, () => instances.length === 0 ? "No models: declare them in gantry.toml ([models.<name>]) or create them with POST /api/v1/instances" : textTable([
    ["NAME", "STATUS", "ORIGIN", "BACKEND", "MODEL", "ALIASES"],
    ...instances.map((i) => [i.name, i.status + (i.config_differs.length > 0 ? "*" : ""), i.origin, i.backend, i.model_path, i.aliases.join(", ") || "-"]),
  ]) + (instances.some((i) => i.config_differs.length > 0) ? "\n* differs from gantry.toml; applied when it stops" : ""));
}

async function stop({ values, positionals }: Parsed): Promise<void> {
  const client = new ApiClient(values);
  const instance = await instanceOf(client, positionals[0], MODEL_HELP.stop!);
  const stopped = await client.request<Instance>("POST", `${path(instance.name)}/stop`, {});
  print(stopped, values.json, () => `Stopped ${stopped.name}`);
}

async function logs({ values, positionals }: Parsed): Promise<void> {
  const client = new ApiClient(values);
  const instance = await instanceOf(client, positionals[0], MODEL_HELP.logs!);
  const lines = values.lines ?? "100";
  if (!/^\d+$/.test(lines) || Number(lines) < 1) throw new CliError(`--lines takes a whole number ≥ 1, not '${lines}'`, 2);
  type Line = { timestamp: string; message: string; stream: string };
  const show = (line: Line) => process.stdout.write(values.json ? JSON.stringify(line) + "\n" : `${line.message}\n`);
  if (!values.follow) {
    const answer = await client.request<{ logs: Line[] }>("GET", `${path(instance.name)}/logs?lines=${lines}`);
    answer.logs.forEach(show);
    return;
  }
  const res = await client.open("GET", `${path(instance.name)}/logs?lines=${lines}&follow=true`);
  for await (const data of sseData(res)) show(JSON.parse(data) as Line);
}

/** Starts the instance when needed (as `ollama run` loads the model), then one answer or a chat on stdin. */
async function run({ values, positionals }: Parsed): Promise<void> {
  const client = new ApiClient(values);
  const instance = await instanceOf(client, positionals[0], MODEL_HELP.run!);
  // An on-demand model starts with the first request (a viewer may run it, as the inference API allows).
  if (instance.status !== "running" && !instance.on_demand_start) {
    if (process.stderr.isTTY) process.stderr.write(`Starting ${instance.name}…\n`);
    await client.request("POST", `${path(instance.name)}/start`);
  }
  const prompt = positionals.slice(1).join(" ");
  const history: { role: string; content: string }[] = [];
  const ask = async (content: string) => {
    history.push({ role: "user", content });
    const res = await client.open("POST", "/v1/chat/completions", { model: instance.name, messages: history, stream: true });
    let answer = "";
    for await (const data of sseData(res)) {
      if (data === "[DONE]") break;
      const delta = (JSON.parse(data) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? "";
      answer += delta;
      if (!values.json) process.stdout.write(delta);
    }
    history.push({ role: "assistant", content: answer });
    process.stdout.write(values.json ? JSON.stringify({ model: instance.name, prompt: content, answer }) + "\n" : "\n");
  };
  if (prompt) return ask(prompt);
  const interactive = Boolean(process.stdin.isTTY);
  if (interactive) process.stdout.write(`Chatting with ${instance.name}; /bye or Ctrl-D to leave.\n`);
  const lines = createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, prompt: ">>> ", terminal: interactive });
  if (interactive) lines.prompt();
  for await (const line of lines) {
    const text = line.trim();
    if (text === "/bye") break;
    if (text) await ask(text);
    if (interactive) lines.prompt();
  }
  lines.close();
}

interface PullView { id: string; source: string; status: string; file: string; bytes_done: number; bytes_total: number | null; error: string | null }

/** A bar on a terminal (stderr, redrawn), plain lines otherwise (every 10 % and the end). */
function progressPrinter(tty: boolean) {
  let lastTenth = -1;
  return (pull: PullView) => {
    const total = pull.bytes_total ?? 0;
    const share = total > 0 ? pull.bytes_done / total : 0;
    if (tty) {
      const width = 30;
      const filled = Math.round(share * width);
      process.stderr.write(`\r${pull.file} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${Math.floor(share * 100)}% ${bytes(pull.bytes_done)}/${total ? bytes(total) : "?"}  `);
      return;
    }
    const tenth = Math.floor(share * 10);
    if (pull.status === "downloading" && tenth === lastTenth) return;
    lastTenth = tenth;
    process.stderr.write(`${pull.status} ${pull.file} ${Math.floor(share * 100)}% ${pull.bytes_done}/${total || "?"} bytes\n`);
  };
}

async function pull({ values, positionals }: Parsed): Promise<void> {
  const source = positionals[0];
  if (!source) throw new CliError(`missing source\n\n${MODEL_HELP.pull}`, 2);
  const client = new ApiClient(values);
  const started = await client.request<PullView>("POST", "/api/v1/models/pull", { source });
  // Ctrl-C cancels the download on the server too (its .partial file stays: pulling again resumes).
  let cancelling: Promise<never> | undefined;
  process.once("SIGINT", () => {
    cancelling = client.request("DELETE", `/api/v1/models/pulls/${encodeURIComponent(started.id)}`).catch(() => undefined).then(() => {
      process.stderr.write(`\nCancelled; gantry pull ${source} resumes it\n`);
      process.exit(130);
    });
  });
  const show = progressPrinter(Boolean(process.stderr.isTTY) && !values.json);
  let last = started;
  const res = await client.open("GET", `/api/v1/models/pulls/${encodeURIComponent(started.id)}/events`);
  for await (const data of sseData(res)) {
    last = JSON.parse(data) as PullView;
    if (!values.json) show(last);
    if (["completed", "failed", "cancelled"].includes(last.status)) break;
  }
  if (cancelling) await cancelling; // the stream ended because of the Ctrl-C: exit as interrupted
  if (process.stderr.isTTY && !values.json) process.stderr.write("\n");
  if (last.status !== "completed") throw new CliError(`Pull of ${source} ${last.status}${last.error ? `: ${last.error}` : ""}`);
  print(last, values.json, () => `Pulled ${last.file} (${bytes(last.bytes_done)})`);
}

const COMMON = "Options: --url URL, --key KEY, --json (print JSON), -h/--help; flags may come anywhere on the line.\n";

export const MODEL_HELP: Record<string, string> = {
  ps: `gantry ps\n\nModels running now (starting and stopping ones too): name, status, backend, port, pid, memory, uptime.\n\n${COMMON}`,
  models: `gantry models [list | export | files]\n\nlist     every model (instance): status, origin (declared in gantry.toml, or api), backend, model file\nexport   all of them as [models.<name>] tables for gantry.toml\nfiles    the model files in models_dir, with size, sha256 and the instances that use them\n\n${COMMON}`,
  run: `gantry run MODEL [PROMPT...]\n\nStarts MODEL if it is not running, then streams the answer to PROMPT and exits;\nwithout a prompt, chats: one message per line of standard input (/bye or Ctrl-D ends).\n\n${COMMON}`,
  stop: `gantry stop MODEL\n\nStops a running model (SIGTERM, then SIGKILL after plugin.instances.stop_timeout_s).\n\n${COMMON}`,
  logs: `gantry logs MODEL [-f] [-n LINES]\n\nThe model server's recent output (default 100 lines); -f/--follow keeps printing new lines.\n\n${COMMON}`,
  pull: `gantry pull SOURCE\n\nDownloads a model file into models_dir: hf:<org>/<repo>/<file>, hf:<org>/<repo> (a safetensors folder)\nor an https:// URL; resumes a broken download, checks the hub's SHA-256. Progress on standard error.\n\n${COMMON}`,
};

/** Runs a model command; undefined when `command` is not one. */
export function modelCommand(command: string, args: string[], parse: (args: string[], extra: Record<string, { type: "string" | "boolean"; short?: string }>) => Parsed): Promise<void> | undefined {
  const commands: Record<string, (parsed: Parsed) => Promise<void>> = { ps, models, run, stop, logs, pull };
  if (!Object.hasOwn(commands, command)) return undefined;
  const parsed = parse(args, { follow: { type: "boolean", short: "f" }, lines: { type: "string", short: "n" } });
  if (command !== "logs" && (parsed.values.follow || parsed.values.lines)) throw new CliError(`-f and -n are options of gantry logs\n\n${MODEL_HELP[command]}`, 2);
  return commands[command]!(parsed);
}
