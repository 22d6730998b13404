/**
 * A multipart/form-data upload streamed to disk: the request body is read as it arrives, its one
 * file part written to a temporary file in the target folder (hashed and counted on the way, refused
 * as soon as it passes the limit), its small text fields kept. Nothing is held whole in memory, and
 * the temporary file is removed when anything goes wrong.
 */
import { createHash } from "node:crypto";
import { rm, open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Errors, GantryError } from "../kernel/errors.ts";

/** The file part as written to disk: the caller renames `path` where it belongs, or removes it. */
export interface ReceivedFile {
  field: string;
  /** The file name the client sent (data, never a path to use). */
  fileName: string;
  path: string;
  size: number;
  sha256: string;
}

export interface ReceivedUpload {
  fields: Record<string, string>;
  file: ReceivedFile | undefined;
}

export interface UploadOptions {
  /** Where the temporary file goes: the folder the file ends up in, so that the final rename stays on one file system. */
  dir: string;
  /** The form field that carries the file. */
  fileField: string;
  maxFileBytes: number;
  /** The error for a file past `maxFileBytes` (a 413 of the caller's catalogue); `size` is the bytes seen so far. */
  tooLarge: (size: number) => GantryError;
}

/** Text fields and part headers are small: past these a request is refused, never buffered. */
const MAX_FIELD_BYTES = 64 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_PARTS = 32;

const CRLF = Buffer.from("\r\n");
const HEADERS_END = Buffer.from("\r\n\r\n");

const bad = (why: string) => Errors.BAD_REQUEST([`Invalid multipart body: ${why}`]);

/** The boundary of a multipart/form-data Content-Type, or a 400. */
export function multipartBoundary(contentType: string | null): string {
  const match = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType ?? "");
  if (!match) throw Errors.BAD_REQUEST(["Send the upload as multipart/form-data (with a boundary)"]);
  return match[1] ?? match[2]!;
}

/** Reads the form: text fields into memory (bounded), the file part into a temporary file in `options.dir`. */
export async function receiveUpload(request: Request, options: UploadOptions): Promise<ReceivedUpload> {
  if (!request.body) throw bad("the body is empty");
  const parser = new MultipartReader(multipartBoundary(request.headers.get("content-type")), options);
  try {
    for await (const chunk of request.body) await parser.push(Buffer.from(chunk));
    return await parser.end();
  } catch (error) {
    await parser.discard();
    throw error;
  }
}

interface Part {
  name: string;
  fileName: string | undefined;
}

/** The parser: a small state machine over the body's bytes (RFC 7578), fed chunk by chunk. */
class MultipartReader {
  readonly #delimiter: Buffer;
  /** Bytes not yet consumed; starts with a CRLF so that the first boundary looks like every other. */
  #pending: Buffer = CRLF;
  #state: "preamble" | "after-boundary" | "headers" | "body" | "done" = "preamble";
  #part: Part | undefined;
  #parts = 0;
  #field: Buffer[] = [];
  #fieldBytes = 0;
  readonly #fields: Record<string, string> = {};
  #file: { handle: FileHandle; path: string; size: number; hash: ReturnType<typeof createHash>; field: string; fileName: string } | undefined;
  #written: ReceivedFile | undefined;
  #tempPath: string | undefined;

  constructor(boundary: string, private readonly options: UploadOptions) {
    this.#delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  async push(chunk: Buffer): Promise<void> {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (await this.#step()) { /* each step consumes what it can */ }
  }

  async end(): Promise<ReceivedUpload> {
    if (this.#state !== "done") throw bad("it ends before its closing boundary");
    return { fields: this.#fields, file: this.#written };
  }

  /** Removes the temporary file of a failed upload. */
  async discard(): Promise<void> {
    await this.#file?.handle.close().catch(() => undefined);
    this.#file = undefined;
    if (this.#tempPath) await rm(this.#tempPath, { force: true });
  }

  /** One move of the state machine; false when it needs more bytes. */
  async #step(): Promise<boolean> {
    switch (this.#state) {
      case "preamble": {
        const at = this.#pending.indexOf(this.#delimiter);
        if (at < 0) {
          this.#keepTail();
          return false;
        }
        this.#pending = this.#pending.subarray(at + this.#delimiter.length);
        this.#state = "after-boundary";
        return true;
      }
      case "after-boundary": {
        if (this.#pending.length < 2) return false;
        const next = this.#pending.subarray(0, 2).toString("latin1");
        if (next === "--") {
          this.#state = "done";
          this.#pending = Buffer.alloc(0);
          return false;
        }
        if (next !== "\r\n") throw bad("a boundary is not followed by a line break");
        this.#pending = this.#pending.subarray(2);
        this.#state = "headers";
        return true;
      }
      case "headers": {
        const at = this.#pending.indexOf(HEADERS_END);
        if (at < 0) {
          if (this.#pending.length > MAX_HEADER_BYTES) throw bad("a part's headers are too long");
          return false;
        }
        await this.#startPart(this.#pending.subarray(0, at).toString("utf8"));
        this.#pending = this.#pending.subarray(at + HEADERS_END.length);
        this.#state = "body";
        return true;
      }
      case "body": {
        const at = this.#pending.indexOf(this.#delimiter);
        if (at < 0) {
          // All but what could be the start of the delimiter belongs to the part.
          const safe = Math.max(0, this.#pending.length - (this.#delimiter.length - 1));
          await this.#write(this.#pending.subarray(0, safe));
          this.#pending = this.#pending.subarray(safe);
          return false;
        }
        await this.#write(this.#pending.subarray(0, at));
        await this.#endPart();
        this.#pending = this.#pending.subarray(at + this.#delimiter.length);
        this.#state = "after-boundary";
        return true;
      }
      case "done":
        this.#pending = Buffer.alloc(0); // the epilogue is ignored
        return false;
    }
  }

  /** Keeps only the bytes that could begin a delimiter split across chunks. */
  #keepTail(): void {
    if (this.#pending.length >= this.#delimiter.length) this.#pending = this.#pending.subarray(this.#pending.length - this.#delimiter.length + 1);
  }

  async #startPart(headerText: string): Promise<void> {
    if (++this.#parts > MAX_PARTS) throw bad(`more than ${MAX_PARTS} parts`);
    const disposition = headerText.split("\r\n").find((line) => /^content-disposition\s*:/i.test(line));
    const name = disposition && paramOf(disposition, "name");
    if (name === undefined) throw bad("a part has no Content-Disposition name");
    const fileName = disposition && paramOf(disposition, "filename");
    this.#part = { name, fileName };
    if (fileName === undefined || name !== this.options.fileField) return;
    if (this.#written || this.#file) throw bad(`more than one '${name}' file`);
    this.#tempPath = join(this.options.dir, `.upload-${crypto.randomUUID()}.part`);
    const handle = await open(this.#tempPath, "wx", 0o600);
    this.#file = { handle, path: this.#tempPath, size: 0, hash: createHash("sha256"), field: name, fileName };
  }

  async #write(bytes: Buffer): Promise<void> {
    if (bytes.length === 0) return;
    const file = this.#file;
    if (file && this.#part?.name === file.field && this.#part.fileName !== undefined) {
      file.size += bytes.length;
      if (file.size > this.options.maxFileBytes) throw this.options.tooLarge(file.size);
      file.hash.update(bytes);
      await file.handle.write(bytes);
      return;
    }
    this.#fieldBytes += bytes.length;
    if (this.#fieldBytes > MAX_FIELD_BYTES) throw bad(`field '${this.#part?.name}' is longer than ${MAX_FIELD_BYTES} bytes`);
    // Copied: the chunk's buffer is reused for what comes next.
    this.#field.push(Buffer.from(bytes));
  }

  async #endPart(): Promise<void> {
    const part = this.#part!;
    const file = this.#file;
    if (file && part.name === file.field && part.fileName !== undefined) {
      await file.handle.close();
      this.#file = undefined;
      this.#written = { field: file.field, fileName: file.fileName, path: file.path, size: file.size, sha256: file.hash.digest("hex") };
    } else if (part.fileName === undefined) {
      this.#fields[part.name] = Buffer.concat(this.#field).toString("utf8");
    }
    this.#field = [];
    this.#fieldBytes = 0;
    this.#part = undefined;
  }
}

/** A parameter of a Content-Disposition header line (`name="file"`), quotes and backslash escapes undone. */
function paramOf(line: string, key: string): string | undefined {
  const match = new RegExp(`;\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i").exec(line);
  if (!match) return undefined;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2];
}
