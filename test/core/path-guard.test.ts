/** The path guard on a real file system: containment by segments, the data dir, links swapped in between check and use. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PathGuard, isInside } from "../../core/kernel/path-guard.ts";
import { tempDir } from "../helpers.ts";

const top = tempDir("gantry-path-guard-");
const outside = tempDir("gantry-path-guard-outside-");
const dataDir = join(top, "data");
for (const dir of [join(top, "root", "sub"), join(top, "root2"), join(dataDir, "models"), join(dataDir, "plugins", "x")]) mkdirSync(dir, { recursive: true });
writeFileSync(join(top, "root", "sub", "f.txt"), "inside");
writeFileSync(join(top, "root2", "f.txt"), "sibling");
writeFileSync(join(dataDir, "secret.key"), "key");
writeFileSync(join(dataDir, "models", "m.gguf"), "model");
writeFileSync(join(outside, "f.txt"), "outside");
const guard = new PathGuard(dataDir);
const root = join(top, "root");
const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return "none";
  } catch (error) {
    return `${(error as { code?: string }).code}:${((error as { details?: { reason?: string } }).details?.reason) ?? ""}`;
  }
};
afterAll(() => {
  rmSync(top, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe("path guard", () => {
  test("a write to a FIFO is refused without waiting for a reader; a write through a swapped-in folder link leaves no file behind", () => {
    const fifo = join(root, "pipe");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const realRoot = guard.resolve([root], ".", { where: "the test root" }).real;
    expect(codeOf(() => guard.writeInside(realRoot, fifo, "x", "the test root"))).toBe("PATH_OUTSIDE_ROOT:unreadable");
    unlinkSync(fifo);
    // The folder checked became a link out of the root before the write.
    const swapped = join(root, "swapped");
    symlinkSync(outside, swapped);
    expect(codeOf(() => guard.writeInside(realRoot, join(swapped, "new.txt"), "x", "the test root"))).toBe("PATH_OUTSIDE_ROOT:outside_root");
    expect(() => readFileSync(join(outside, "new.txt"))).toThrow();
    unlinkSync(swapped);
  });

  test("containment is by whole segments", () => {
    expect(isInside("/data", "/data")).toBe(true);
    expect(isInside("/data", "/data/x")).toBe(true);
    expect(isInside("/data", "/data/..x")).toBe(true);
    expect(isInside("/data", "/data2")).toBe(false);
    expect(isInside("/data", "/")).toBe(false);
    expect(isInside("/", "/data")).toBe(true);
  });

  test("named paths: a sibling with the root's name as prefix, `..`, NUL, absent", () => {
    expect(guard.resolve([root], "sub/f.txt", { where: "root" }).real).toBe(join(root, "sub", "f.txt"));
    expect(codeOf(() => guard.resolve([root], join(top, "root2", "f.txt"), { where: "root" }))).toBe("PATH_OUTSIDE_ROOT:outside_root");
    expect(codeOf(() => guard.resolve([root], "sub/../../root2/f.txt", { where: "root" }))).toBe("PATH_OUTSIDE_ROOT:outside_root");
    expect(codeOf(() => guard.resolve([root], "sub/\u0000", { where: "root" }))).toBe("PATH_INVALID:");
    expect(codeOf(() => guard.resolve([root], "", { where: "root" }))).toBe("PATH_INVALID:");
    expect(codeOf(() => guard.resolve([root], "nothing", { where: "root" }))).toBe("PATH_NOT_FOUND:");
    expect(guard.resolve([root], "new/file.txt", { where: "root", allowMissing: true }).real).toBe(join(root, "new", "file.txt"));
  });

  test("the data dir: never through a root that holds it; a models folder inside it reads its own files", () => {
    expect(codeOf(() => guard.resolve([top], "data/secret.key", { where: "top" }))).toBe("PATH_OUTSIDE_ROOT:data_dir");
    expect(codeOf(() => guard.resolve([dataDir], "secret.key", { where: "data" }))).toBe("PATH_OUTSIDE_ROOT:data_dir");
    expect(codeOf(() => guard.resolve([join(dataDir, "plugins", "x")], ".", { where: "plugins" }))).toBe("PATH_OUTSIDE_ROOT:data_dir");
    expect(guard.resolve([join(dataDir, "models")], "m.gguf", { where: "models" }).real).toBe(join(dataDir, "models", "m.gguf"));
    expect(guard.resolveFile(join(dataDir, "models", "m.gguf"), "model")).toBe(join(dataDir, "models", "m.gguf"));
    expect(codeOf(() => guard.resolveFile(join(dataDir, "secret.key"), "model"))).toBe("PATH_OUTSIDE_ROOT:data_dir");
    expect(guard.walk(top).refused).toContainEqual({ path: "data", reason: "data_dir" });
  });

  test("a dangling link is followed by hand: a write through it lands outside and is refused", () => {
    symlinkSync(join(outside, "created.txt"), join(root, "dangling.txt"));
    expect(codeOf(() => guard.resolve([root], "dangling.txt", { where: "root", allowMissing: true }))).toBe("PATH_OUTSIDE_ROOT:outside_root");
    unlinkSync(join(root, "dangling.txt"));
  });

  test("a file or a folder swapped for a link after the check is refused when opened", () => {
    const { real, root: rootReal } = guard.resolve([root], "sub/f.txt", { where: "root" });
    expect(guard.readInside(rootReal, real, "root").toString()).toBe("inside");
    // The file itself becomes a link.
    renameSync(real, `${real}.moved`);
    symlinkSync(join(outside, "f.txt"), real);
    expect(codeOf(() => guard.readInside(rootReal, real, "root"))).toBe("PATH_OUTSIDE_ROOT:outside_root");
    expect(codeOf(() => guard.writeInside(rootReal, real, "x", "root"))).toBe("PATH_OUTSIDE_ROOT:outside_root");
    unlinkSync(real);
    renameSync(`${real}.moved`, real);
    // A folder on the way becomes a link: the open descriptor's real path gives it away.
    renameSync(join(root, "sub"), join(root, "sub.moved"));
    symlinkSync(outside, join(root, "sub"));
    expect(codeOf(() => guard.readInside(rootReal, real, "root"))).toBe("PATH_OUTSIDE_ROOT:outside_root");
    expect(codeOf(() => guard.writeInside(rootReal, real, "x", "root"))).toBe("PATH_OUTSIDE_ROOT:outside_root");
    expect(readFileSync(join(outside, "f.txt"), "utf8")).toBe("outside");
    unlinkSync(join(root, "sub"));
    renameSync(join(root, "sub.moved"), join(root, "sub"));
  });
});
