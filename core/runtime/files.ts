/** Files for any runtime: contents as web streams (response bodies), executables on PATH. */
import { accessSync, constants, createReadStream, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { Readable } from "node:stream";

/** The bytes of `path` from `start` to `end` (inclusive; whole file by default) as a ReadableStream. */
export function fileStream(path: string, start?: number, end?: number): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(path, { start, end })) as ReadableStream<Uint8Array>;
}

/** The path of `executable` found on PATH (as `which` does), or null. */
export function which(executable: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, executable);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
