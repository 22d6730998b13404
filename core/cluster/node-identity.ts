/** A node's id: made once and kept in <data_dir>/node-id, so a restarted node is the same node. */
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Reads the node id from the data dir, creating it on first start. */
export function nodeIdOf(dataDir: string): string {
  const dir = resolve(dataDir);
  const file = join(dir, "node-id");
  if (existsSync(file)) {
    const id = readFileSync(file, "utf8").trim();
    if (NODE_ID.test(id)) return id;
  }
  mkdirSync(dir, { recursive: true });
  const id = randomUUID();
  writeFileSync(file, `${id}\n`);
  return id;
}
