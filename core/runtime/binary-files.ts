/** The single binary's embedded files, unpacked once per build into a cache folder that then serves as gantry's install root. */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** systemd's CacheDirectory=, then XDG, then ~/.cache, then the temp folder. */
function cacheRoot(): string {
  if (process.env.CACHE_DIRECTORY) return process.env.CACHE_DIRECTORY.split(":")[0]!;
  if (process.env.XDG_CACHE_HOME) return join(process.env.XDG_CACHE_HOME, "gantry");
  const home = homedir();
  return home && home !== "/" ? join(home, ".cache", "gantry") : join(tmpdir(), `gantry-${process.getuid?.() ?? "user"}`);
}

/**
 * Writes `files` ([path, embedded path]) under `<cache>/<buildId>` unless a complete copy is there,
 * with a stand-in for each compiled-in plugin entry (the plugin host checks that it exists); returns that folder.
 */
export function unpack(files: [string, string][], buildId: string, entries: string[]): string {
  const target = join(cacheRoot(), buildId);
  if (existsSync(join(target, ".complete"))) return target;
  const partial = `${target}.${process.pid}.partial`;
  rmSync(partial, { recursive: true, force: true });
  for (const [path, embedded] of files) {
    mkdirSync(dirname(join(partial, path)), { recursive: true });
    writeFileSync(join(partial, path), readFileSync(embedded));
  }
  for (const entry of entries) writeFileSync(join(partial, entry), "// compiled into the gantry binary\n");
  writeFileSync(join(partial, ".complete"), buildId);
  try {
    renameSync(partial, target);
  } catch {
    rmSync(partial, { recursive: true, force: true }); // another start unpacked it first
  }
  return target;
}
