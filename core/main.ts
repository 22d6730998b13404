/** The `gantry` command line: `gantry serve` runs the server. */
import { parseArgs } from "node:util";
import { loadConfig } from "./config.ts";
import { GantryError } from "./errors.ts";
import { createGantry } from "./gantry.ts";
import pkg from "../package.json" with { type: "json" };

const HELP = `gantry ${pkg.version}: control plane for self-hosted AI models

Usage:
  gantry serve [--config FILE] [--host HOST] [--port PORT] [--data-dir DIR]
  gantry --version
  gantry --help

Configuration: defaults < gantry.toml (or --config / GANTRY_CONFIG) < GANTRY_* environment < flags.
See gantry.example.toml and docs/configuration.md.
`;

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string" }, host: { type: "string" }, port: { type: "string" }, "data-dir": { type: "string" }, help: { type: "boolean" } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const overrides: Record<string, unknown> = {};
  if (values.host) overrides["server.host"] = values.host;
  if (values.port) overrides["server.port"] = values.port;
  if (values["data-dir"]) overrides.data_dir = values["data-dir"];
  const config = loadConfig({ file: values.config, overrides });
  const gantry = await createGantry(config);
  await gantry.listen();
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(130); // a second Ctrl-C means now
    gantry.loggers.root.info({ signal }, "signal received");
    gantry.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  return -1; // keep running
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(HELP);
    return command ? 0 : 1;
  }
  if (command === "serve") return serve(rest);
  process.stderr.write(`gantry: unknown command '${command}'\n\n${HELP}`);
  return 2;
}

try {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exit(code);
} catch (error) {
  // Configuration and usage errors are for people: the message, no stack.
  const message = error instanceof GantryError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? (error as Error).message : String((error as Error)?.stack ?? error);
  process.stderr.write(`gantry: ${message}\n`);
  process.exit(1);
}
