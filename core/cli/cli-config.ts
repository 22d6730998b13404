/** Where the CLI finds the server and credentials: flags > environment > the user's config file. */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export interface StoredCredentials {
  url?: string;
  api_key?: string;
  access_token?: string;
  refresh_token?: string;
  username?: string;
}

/** `$XDG_CONFIG_HOME/gantry/cli.json`, else `~/.config/gantry/cli.json`. */
export function cliConfigPath(env = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "gantry", "cli.json");
}

export function readStored(env = process.env): StoredCredentials {
  const file = cliConfigPath(env);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8")) as StoredCredentials;
  } catch {
    throw new Error(`${file} is not valid JSON; fix or delete it`);
  }
}

/** Writes the file readable by its owner only (it holds credentials). */
export function writeStored(value: StoredCredentials, env = process.env): string {
  const file = cliConfigPath(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

export function clearStored(env = process.env): void {
  rmSync(cliConfigPath(env), { force: true });
}
