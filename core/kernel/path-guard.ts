/**
 * One rule for every folder gantry reads or packs for a caller (knowledge, datasets, deployment
 * packages, plugin folders, agents' file tools): real paths only, inside the root, never gantry's
 * own state in the data dir; links that leave the root are refused and reported, never followed.
 */
import { closeSync, constants, existsSync, fstatSync, ftruncateSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeSync, type Stats } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { capEcho, createError, defineErrors } from "./errors.ts";

/** Why an entry was not read: it leads outside its root, or into gantry's data dir. */
export type RefusalReason = "outside_root" | "data_dir" | "broken_link" | "not_a_file" | "unreadable";

/** An entry a walk left out, by its path below the root. */
export interface RefusedEntry {
  path: string;
  reason: RefusalReason;
}

/** A file a walk found: its path below the root (as listed, links by their own name) and its real path. */
export interface WalkedFile {
  path: string;
  real: string;
  size: number;
}

export interface WalkOptions {
  /** The root links may lead anywhere inside (default: the walked folder itself). */
  within?: string;
  /** Folders (by name) not entered, e.g. `.git`. */
  skipFolder?: (name: string) => boolean;
  /** Files (by path below the root) wanted; others are passed over without a report. */
  wants?: (path: string) => boolean;
}

const REASONS: Record<RefusalReason, string> = {
  outside_root: "it leads outside",
  data_dir: "it lies in gantry's data dir, which is never read through",
  broken_link: "it is a link to nothing in",
  not_a_file: "it is not a regular file or folder in",
  unreadable: "it cannot be read in",
};

export const PathErrors = defineErrors("core", {
  PATH_INVALID: createError("PATH_INVALID", 400, (why: string) => `Invalid path: ${why}`),
  PATH_OUTSIDE_ROOT: createError("PATH_OUTSIDE_ROOT", 400, (path: string, reason: RefusalReason, where: string) =>
    `'${capEcho(path)}' is refused: ${REASONS[reason]} ${where}; links and '..' are resolved before the check`),
  PATH_NOT_FOUND: createError("PATH_NOT_FOUND", 404, (path: string, where: string) => `Nothing at '${capEcho(path)}' in ${where}`),
});

/** PATH_OUTSIDE_ROOT with the reason in `details` (callers that skip rather than fail read it). */
function outside(path: string, reason: RefusalReason, where: string) {
  return PathErrors.PATH_OUTSIDE_ROOT([path, reason, where], { details: { reason } });
}

/** Whether `child` is `parent` or lies below it, segment by segment (`/data2` is not inside `/data`). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

const MAX_LINKS = 40;

/**
 * The real path of `path`, whose last parts may not exist yet (their names are kept as given). A
 * dangling link on the way is followed by hand, so a write through it is checked where it would land.
 */
function realPathOf(path: string, links = 0): string {
  let existing = path;
  const missing: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(existing), ...missing);
    } catch {
      if (lstatSync(existing, { throwIfNoEntry: false })?.isSymbolicLink()) {
        if (links >= MAX_LINKS) throw PathErrors.PATH_INVALID(["too many levels of links"]);
        return realPathOf(join(resolve(dirname(existing), readlinkSync(existing)), ...missing), links + 1);
      }
      if (dirname(existing) === existing) return path;
      missing.unshift(basename(existing));
      existing = dirname(existing);
    }
  }
}

/** Paths checked against gantry's data dir; one per gantry (core builds it, plugins get it as `ctx.paths`). */
export class PathGuard {
  readonly #dataDir: string;

  constructor(dataDir: string) {
    this.#dataDir = realPathOf(resolve(dataDir));
  }

  /** The real path of `path` (links resolved; last parts that do not exist kept as given). */
  real(path: string): string {
    return realPathOf(resolve(path));
  }

  /** Why `real` may not be read through the root whose real path is `rootReal`; null when it may. */
  refusal(rootReal: string, real: string): RefusalReason | null {
    if (!isInside(rootReal, real)) return "outside_root";
    if (isInside(this.#dataDir, real) && !this.#contentFolder(rootReal)) return "data_dir";
    return null;
  }

  /**
   * A root inside the data dir (models_dir defaults to `<data_dir>/models`) reads its own files; the
   * data dir itself, its top-level files (database, key) and plugins' folders are never a root.
   */
  #contentFolder(rootReal: string): boolean {
    return rootReal !== this.#dataDir && isInside(this.#dataDir, rootReal) && !isInside(join(this.#dataDir, "plugins"), rootReal)
      && statSync(rootReal, { throwIfNoEntry: false })?.isDirectory() === true;
  }

  /**
   * The real path of `path` (absolute, or relative to the first root) and the root it lies in.
   * PATH_INVALID for an empty path or one with NUL, PATH_OUTSIDE_ROOT when it resolves outside every
   * root or into the data dir, PATH_NOT_FOUND when nothing is there (unless `allowMissing`, for writes).
   */
  resolve(roots: readonly string[], path: string, options: { where: string; allowMissing?: boolean }): { real: string; root: string } {
    if (typeof path !== "string" || path === "") throw PathErrors.PATH_INVALID(["the path is empty"]);
    if (path.includes("\0")) throw PathErrors.PATH_INVALID(["the path holds a NUL character"]);
    if (roots.length === 0) throw outside(path, "outside_root", options.where);
    const real = realPathOf(isAbsolute(path) ? resolve(path) : resolve(roots[0]!, path));
    let reason: RefusalReason = "outside_root";
    for (const root of roots) {
      const rootReal = realPathOf(resolve(root));
      const refused = this.refusal(rootReal, real);
      if (refused === null) {
        if (!options.allowMissing && !existsSync(real)) throw PathErrors.PATH_NOT_FOUND([path, options.where]);
        return { real, root: rootReal };
      }
      if (refused === "data_dir") reason = refused;
    }
    throw outside(path, reason, options.where);
  }

  /**
   * A file named directly (a model file): followed wherever it leads, except into gantry's state in
   * the data dir. Answers its real path; PATH_OUTSIDE_ROOT or PATH_NOT_FOUND otherwise.
   */
  resolveFile(path: string, where: string): string {
    if (path.includes("\0")) throw PathErrors.PATH_INVALID(["the path holds a NUL character"]);
    const real = realPathOf(resolve(path));
    if (this.refusal(dirname(real), real) !== null) throw outside(path, "data_dir", where);
    if (!existsSync(real)) throw PathErrors.PATH_NOT_FOUND([path, where]);
    return real;
  }

  /**
   * Every regular file under `root`, sorted by path. Folders are entered and links followed only
   * while their real paths stay inside the root and out of the data dir; each entry left out for
   * that is listed in `refused` (a link loop is entered once).
   */
  walk(root: string, options: WalkOptions = {}): { files: WalkedFile[]; refused: RefusedEntry[] } {
    const folderReal = realPathOf(resolve(root));
    const rootReal = options.within ? realPathOf(resolve(options.within)) : folderReal;
    const files: WalkedFile[] = [];
    const refused: RefusedEntry[] = [];
    const entered = new Set<string>();
    const visit = (dirReal: string, below: string) => {
      if (entered.has(dirReal)) return;
      entered.add(dirReal);
      let names: string[];
      try {
        names = readdirSync(dirReal).sort();
      } catch {
        refused.push({ path: below || ".", reason: "unreadable" });
        return;
      }
      for (const name of names) {
        const path = below ? `${below}/${name}` : name;
        const entry = join(dirReal, name);
        const found = this.#follow(rootReal, entry);
        if ("reason" in found) {
          // Refused folders are always reported; refused files only when the caller wanted that name.
          const wanted = !options.wants || options.wants(path) || statSync(entry, { throwIfNoEntry: false })?.isDirectory() === true;
          if (wanted) refused.push({ path, reason: found.reason });
        } else if (found.stat.isDirectory()) {
          if (!options.skipFolder?.(name)) visit(found.real, path);
        } else if (!options.wants || options.wants(path)) files.push({ path, real: found.real, size: found.stat.size });
      }
    };
    const refusedFolder = this.refusal(rootReal, folderReal);
    if (refusedFolder) refused.push({ path: ".", reason: refusedFolder });
    else if (statSync(folderReal, { throwIfNoEntry: false })?.isDirectory()) visit(folderReal, "");
    return { files: files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), refused };
  }

  /** One entry of a walk: its real path and stat, or why it is left out. */
  #follow(rootReal: string, entry: string): { real: string; stat: Stats } | { reason: RefusalReason } {
    let real: string;
    try {
      real = realpathSync(entry);
    } catch {
      return { reason: "broken_link" };
    }
    const reason = this.refusal(rootReal, real);
    if (reason) return { reason };
    const stat = statSync(real, { throwIfNoEntry: false });
    if (!stat || (!stat.isFile() && !stat.isDirectory())) return { reason: "not_a_file" };
    return { real, stat };
  }

  /**
   * Opens the regular file `real` read-only and checks where the open descriptor points (a link
   * swapped in after the check is caught here). Answers the descriptor; the caller closes it.
   */
  openInside(rootReal: string, real: string, where: string): number {
    // O_NOFOLLOW: the last part must not have become a link; O_NONBLOCK: a FIFO must not hang the open.
    const fd = openChecked(real, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0), where);
    try {
      const opened = openedPath(fd, real);
      const reason = opened === null ? "outside_root" : this.refusal(rootReal, opened);
      if (reason) throw outside(real, reason, where);
      if (!fstatSync(fd).isFile()) throw outside(real, "not_a_file", where);
      return fd;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /**
   * Writes `content` to `real` (a path `resolve` answered, creating the file), through a descriptor
   * checked before anything is truncated: a link put in its place meanwhile is refused.
   */
  writeInside(rootReal: string, real: string, content: string | Uint8Array, where: string): void {
    // O_NONBLOCK: a FIFO without a reader must fail the open, not hang the process. O_EXCL first, so a
    // file this call created is removed again when the check below refuses where it landed.
    const flags = constants.O_WRONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
    let created = true;
    let fd: number;
    try {
      fd = openSync(real, flags | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw openError(real, error, where);
      created = false;
      fd = openChecked(real, flags, where);
    }
    try {
      const opened = openedPath(fd, real);
      const reason = opened === null ? "outside_root" : this.refusal(rootReal, opened) ?? (fstatSync(fd).isFile() ? undefined : "not_a_file");
      if (reason) {
        if (created && opened !== null) rmSync(opened, { force: true });
        throw outside(real, reason, where);
      }
      ftruncateSync(fd, 0);
      const bytes = typeof content === "string" ? Buffer.from(content) : content;
      for (let done = 0; done < bytes.byteLength;) done += writeSync(fd, bytes, done);
    } finally {
      closeSync(fd);
    }
  }

  /** The bytes of `real` (a path `resolve` or `walk` answered), read through a checked descriptor. */
  readInside(rootReal: string, real: string, where: string): Buffer {
    const fd = this.openInside(rootReal, real, where);
    try {
      return readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** `openSync` whose failures are the API's errors: a link where none was (ELOOP) is refused, a missing file not found. */
function openChecked(path: string, flags: number, where: string): number {
  try {
    return openSync(path, flags, 0o644);
  } catch (error) {
    throw openError(path, error, where);
  }
}

/** A failed open as the API's error. */
function openError(path: string, error: unknown, where: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return PathErrors.PATH_NOT_FOUND([path, where]);
  return outside(path, code === "ELOOP" ? "outside_root" : "unreadable", where);
}

/** Where an open descriptor points: the kernel's own answer on Linux; elsewhere the path, if it still names the same file (else null). */
function openedPath(fd: number, path: string): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    const [opened, named] = [fstatSync(fd), statSync(path, { throwIfNoEntry: false })];
    return named && named.ino === opened.ino && named.dev === opened.dev ? realpathSync(path) : null;
  }
}
