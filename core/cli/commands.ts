/** The client side of the `gantry` command: login, plugin, features, commands and `/plugin:command` invocation. */
import { parseArgs } from "node:util";
import { quote } from "shell-quote";
import { ApiClient, CliError } from "./api-client.ts";
import { clearStored, readStored, writeStored } from "./cli-config.ts";
import { textTable } from "../kernel/text-table.ts";
import { MODEL_HELP, modelCommand } from "./model-commands.ts";

const COMMON = "Options for every client command:\n  --url URL     server (default: GANTRY_URL, the saved login, or http://127.0.0.1:8080)\n  --key KEY     API key or access token (default: GANTRY_API_KEY, or the saved login)\n  --json        print the server's JSON answer\n  -h, --help    this help\n";

export const CLIENT_HELP: Record<string, string> = {
  login: `gantry login [--username NAME] [--password-stdin] [--key API_KEY] [--url URL]

Logs in and saves the server URL and credentials in $XDG_CONFIG_HOME/gantry/cli.json (mode 600).
With a username, the password is read from standard input (hidden at a terminal);
with --key, the API key is checked and saved instead.

${COMMON}`,
  logout: `gantry logout\n\nEnds the saved login session on the server and deletes the saved credentials.\n\n${COMMON}`,
  plugin: `gantry plugin <list | info NAME | install PATH [--plugin NAME] | reload NAME | remove NAME [--force] | enable NAME | disable NAME [--force]>

list      installed plugins and their status
info      one plugin with everything it registered (install drops) and its last error
install   install the plugin folder at PATH on the server (referenced in place); a Claude Code
          marketplace folder lists its plugins, --plugin NAME installs one of them
reload    re-import and re-register atomically (the old version keeps serving on failure)
remove    uninstall (refused while other plugins depend on it, unless --force)

${COMMON}`,
  features: `gantry features <list | get NAME | set NAME VALUE | reset NAME>

VALUE is read as JSON when it parses (true, 3, "x", {"a":1}), else as a string.

${COMMON}`,
  commands: `gantry commands\n\nLists the slash commands of every active plugin.\n\n${COMMON}`,
  slash: `gantry /PLUGIN:COMMAND [ARGUMENTS...]

Invokes a slash command. The arguments are joined back into one string, quoted like a shell
would need them, and the server splits them again for $1, $2, ...; $ARGUMENTS is the whole
string. A code command prints its result; a markdown command prints its rendered prompt (and
the agent's answer when an agents service runs it).

${COMMON}`,
};

type Values = { follow?: boolean; lines?: string; url?: string; key?: string; json?: boolean; help?: boolean; force?: boolean; plugin?: string; username?: string; "password-stdin"?: boolean };

type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

export function parse(args: string[], extra: OptionSpec = {}) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { url: { type: "string" }, key: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" }, ...extra },
  });
  return { values: values as Values, positionals };
}

function print(value: unknown, asJson: boolean | undefined, text: () => string): void {
  process.stdout.write(asJson ? JSON.stringify(value, null, 2) + "\n" : text() + "\n");
}


async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) return (await new Response(Bun.stdin.stream()).text()).replace(/\r?\n$/, "");
  process.stderr.write("Password: ");
  process.stdin.setRawMode(true);
  const password = await new Promise<string>((resolve) => {
    let value = "";
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString()) {
        if (char === "\r" || char === "\n") {
          process.stdin.off("data", onData);
          resolve(value);
          return;
        }
        if (char === "\u0003") process.exit(130);
        value = char === "\u007f" ? value.slice(0, -1) : value + char;
      }
    };
    process.stdin.on("data", onData);
  });
  process.stdin.setRawMode(false);
  process.stdin.pause();
  process.stderr.write("\n");
  return password;
}

async function login(args: string[]): Promise<void> {
  const { values } = parse(args, { username: { type: "string" }, "password-stdin": { type: "boolean" } });
  const client = new ApiClient(values);
  if (values.username) {
    const password = await readPassword();
    const session = await client.request<{ access_token: string; refresh_token: string; expires_at: string; user: { role: string } }>(
      "POST", "/api/v1/auth/login", { username: values.username, password }, { auth: false });
    const file = writeStored({ url: client.url, username: values.username, access_token: session.access_token, refresh_token: session.refresh_token });
    print(session.user, values.json, () => `Logged in to ${client.url} as ${values.username} (${session.user.role}); saved in ${file}`);
    return;
  }
  if (!values.key) throw new CliError("Give --username NAME (password on stdin) or --key API_KEY", 2);
  const who = await client.request<{ subject: string; role: string }>("GET", "/api/v1/auth/whoami");
  const file = writeStored({ url: client.url, api_key: values.key });
  print(who, values.json, () => `Key accepted by ${client.url}: ${who.subject} (${who.role}); saved in ${file}`);
}

async function logout(args: string[]): Promise<void> {
  const { values } = parse(args);
  const stored = readStored();
  if (stored.access_token) await new ApiClient(values).request("POST", "/api/v1/auth/logout").catch(() => undefined);
  clearStored();
  print({ ok: true }, values.json, () => "Logged out; saved credentials deleted");
}

interface PluginInfo {
  name: string; version: string | null; status: string; source: string; path: string;
  error: { code: string; message: string } | null; install_drops?: { kind: string; name: string }[];
  unsupported?: { part: string; reason: string }[];
}

interface MarketplaceListing {
  marketplace: string;
  plugins: { name: string; version: string | null; description: string | null; installable: boolean; reason: string | null }[];
}

async function plugin(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { force: { type: "boolean" }, plugin: { type: "string" } });
  const [action, target] = positionals;
  const client = new ApiClient(values);
  const need = (what: string) => {
    if (!target) throw new CliError(`gantry plugin ${action} needs ${what}\n\n${CLIENT_HELP.plugin}`, 2);
    return encodeURIComponent(target);
  };
  const force = values.force ? "?force=true" : "";
  const describe = (p: PluginInfo) => `${p.name} ${p.version ?? "?"} ${p.status} (${p.source}: ${p.path})${p.error ? `\n  error: ${p.error.message}` : ""}`;
  switch (action) {
    case "list": {
      const { plugins } = await client.request<{ plugins: PluginInfo[] }>("GET", "/api/v1/plugins");
      return print(plugins, values.json, () => plugins.length === 0 ? "No plugins installed" : textTable([["NAME", "VERSION", "STATUS", "SOURCE"], ...plugins.map((p) => [p.name, p.version ?? "-", p.status, p.source])]));
    }
    case "info": {
      const info = await client.request<PluginInfo>("GET", `/api/v1/plugins/${need("a plugin name")}`);
      return print(info, values.json, () => [describe(info), ...(info.install_drops ?? []).map((d) => `  ${d.kind}: ${d.name}`), ...(info.unsupported ?? []).map((u) => `  unsupported: ${u.part} (${u.reason})`)].join("\n"));
    }
    case "install": {
      if (!target) need("a folder path");
      const plugin = typeof values.plugin === "string" ? { plugin: values.plugin } : {};
      const answer = await client.request<PluginInfo | MarketplaceListing>("POST", "/api/v1/plugins", { path: require("node:path").resolve(target!), ...plugin });
      if ("marketplace" in answer) {
        return print(answer, values.json, () => [`Marketplace ${answer.marketplace}: install one with --plugin NAME`, textTable([["NAME", "VERSION", "INSTALLABLE"], ...answer.plugins.map((p) => [p.name, p.version ?? "-", p.installable ? "yes" : `no: ${p.reason}`])])].join("\n"));
      }
      const warnings = (answer.unsupported ?? []).map((u) => `\n  unsupported: ${u.part} (${u.reason})`).join("");
      return print(answer, values.json, () => `Installed ${describe(answer)}${warnings}`);
    }
    case "reload": {
      const info = await client.request<PluginInfo>("POST", `/api/v1/plugins/${need("a plugin name")}/reload`);
      return print(info, values.json, () => `Reloaded ${describe(info)}`);
    }
    case "enable":
    case "disable": {
      const info = await client.request<PluginInfo>("POST", `/api/v1/plugins/${need("a plugin name")}/${action}${action === "disable" ? force : ""}`);
      return print(info, values.json, () => `${action === "enable" ? "Enabled" : "Disabled"} ${describe(info)}`);
    }
    case "remove": {
      const result = await client.request("DELETE", `/api/v1/plugins/${need("a plugin name")}${force}`);
      return print(result, values.json, () => `Removed ${target}`);
    }
    default:
      throw new CliError(`${action ? `unknown plugin action '${action}'` : "missing plugin action"}\n\n${CLIENT_HELP.plugin}`, 2);
  }
}

interface FlagView { name: string; type: string; value: unknown; default: unknown; overridden: boolean; plugin: string; description: string }

async function features(args: string[]): Promise<void> {
  const { values, positionals } = parse(args);
  const [action, name, raw] = positionals;
  const client = new ApiClient(values);
  const show = (f: FlagView) => `${f.name} = ${JSON.stringify(f.value)} (${f.type}; default ${JSON.stringify(f.default)}${f.overridden ? "; set" : ""})`;
  const need = () => {
    if (!name) throw new CliError(`gantry features ${action} needs a flag name\n\n${CLIENT_HELP.features}`, 2);
    return encodeURIComponent(name);
  };
  switch (action) {
    case "list": {
      const { features: flags } = await client.request<{ features: FlagView[] }>("GET", "/api/v1/features");
      return print(flags, values.json, () => flags.length === 0 ? "No feature flags" : textTable([["NAME", "VALUE", "TYPE", "PLUGIN"], ...flags.map((f) => [f.name, JSON.stringify(f.value), f.type, f.plugin])]));
    }
    case "get": {
      const flag = await client.request<FlagView>("GET", `/api/v1/features/${need()}`);
      return print(flag, values.json, () => show(flag));
    }
    case "set": {
      const path = `/api/v1/features/${need()}`;
      if (raw === undefined) throw new CliError(`gantry features set needs a value\n\n${CLIENT_HELP.features}`, 2);
      let value: unknown = raw;
      try {
        value = JSON.parse(raw);
      } catch {
        // not JSON: a plain string
      }
      const flag = await client.request<FlagView>("PUT", path, { value });
      return print(flag, values.json, () => show(flag));
    }
    case "reset": {
      const flag = await client.request<FlagView>("DELETE", `/api/v1/features/${need()}`);
      return print(flag, values.json, () => show(flag));
    }
    default:
      throw new CliError(`${action ? `unknown features action '${action}'` : "missing features action"}\n\n${CLIENT_HELP.features}`, 2);
  }
}

async function listCommands(args: string[]): Promise<void> {
  const { values } = parse(args);
  const { commands } = await new ApiClient(values).request<{ commands: { qname: string; description: string; argument_hint: string | null }[] }>("GET", "/api/v1/plugins/commands");
  print(commands, values.json, () => commands.length === 0 ? "No slash commands" : textTable(commands.map((c) => [`/${c.qname}`, c.argument_hint ?? "", c.description])));
}

/** `gantry /plugin:command args...`: client flags come before the command; everything after it is the command's. */
async function slash(qname: string, args: string[], flags: string[]): Promise<void> {
  const { values } = parse(flags);
  if (!/^\/[a-z][a-z0-9-]*:[a-z0-9][a-z0-9-]*$/.test(qname)) throw new CliError(`'${qname}' is not a slash command; write /plugin:command`, 2);
  const raw = quote(args);
  const result = await new ApiClient(values).request<{ kind: string; result?: unknown; prompt?: string; ran_as_agent?: boolean }>(
    "POST", `/api/v1/plugins/commands/${encodeURIComponent(qname.slice(1))}/invoke`, { arguments: raw });
  print(result, values.json, () => {
    const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
    if (result.kind === "code") return text(result.result);
    return result.ran_as_agent ? `${result.prompt}\n---\n${text(result.result)}` : String(result.prompt).replace(/\n$/, "");
  });
}

/** Runs a client command; returns undefined when `command` is not one. */
export function clientCommand(command: string, args: string[]): Promise<void> | undefined {
  if (command.startsWith("/")) {
    // Flags for gantry itself may come before the slash command: gantry --url U /p:c args
    return slash(command, args, []);
  }
  const commands: Record<string, (args: string[]) => Promise<void>> = { login, logout, plugin, features, commands: listCommands };
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (args.includes("--help") || args.includes("-h")) {
    const help = run ? CLIENT_HELP[command] : MODEL_HELP[command];
    if (help === undefined) return undefined;
    process.stdout.write(help);
    return Promise.resolve();
  }
  return run ? run(args) : modelCommand(command, args, parse);
}

/** `gantry [--url U] [--key K] [--json] /plugin:command args...` */
export function slashWithLeadingFlags(argv: string[]): Promise<void> | undefined {
  const index = argv.findIndex((a) => a.startsWith("/"));
  if (index <= 0) return undefined;
  return slash(argv[index]!, argv.slice(index + 1), argv.slice(0, index));
}
