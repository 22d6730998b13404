/** File contents as web streams, for response bodies (works the same on Bun and Deno). */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";

/** The bytes of `path` from `start` to `end` (inclusive; whole file by default) as a ReadableStream. */
export function fileStream(path: string, start?: number, end?: number): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(path, { start, end })) as ReadableStream<Uint8Array>;
}
