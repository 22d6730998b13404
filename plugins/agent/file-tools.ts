/**
 * Claude Code's file tools for agents — Read, Glob, Grep (read only), Write, Edit — each kept
 * inside the workspace roots of plugin.agent.workspaces by gantry's path guard: real paths
 * (links and `..` resolved), never gantry's data dir; links leaving the workspace are not followed.
 */
import { runtime, type PathGuard } from "gantry/plugin";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import type { Tool } from "./tool-catalog.ts";

const MAX_LINES = 2000;
const MAX_LINE_CHARS = 2000;
const MAX_MATCHES = 500;
const MAX_FILE_BYTES = 5_000_000;
const SKIPPED_FOLDERS = new Set([".git", "node_modules"]);

const str = (value: unknown, name: string): string => {
  if (typeof value !== "string" || value === "") throw new Error(`'${name}' is required (a string)`);
  return value;
};

/** Resolves `path` (absolute, or relative to the first root) to its real path and the root it lies in; refuses anything outside the roots or in gantry's data dir. */
export function insideWorkspace(paths: PathGuard, roots: string[], path: string): { real: string; root: string } {
  if (roots.length === 0) throw new Error("no workspace is configured (plugin.agent.workspaces): file and shell tools have nowhere to work");
  return paths.resolve(roots, path, { where: `the workspace (${roots.join(", ")})`, allowMissing: true });
}

/** Every file under `dir` (skipping .git and node_modules; links only while they stay in the workspace), as paths relative to `dir` with their real paths. */
function walk(paths: PathGuard, dir: string, root: string): { path: string; real: string }[] {
  return paths.walk(dir, { within: root, skipFolder: (name) => SKIPPED_FOLDERS.has(name) }).files;
}

/** `Edit(src/**)` and `Read(/srv/docs/**)` both work: rules see the path as given, absolute, and relative to the first workspace. */
function pathForms(roots: string[], args: Record<string, unknown>): Record<string, unknown> {
  const given = args.file_path ?? args.path;
  if (typeof given !== "string" || roots.length === 0) return args;
  const absolute = resolve(roots[0]!, given);
  return { ...args, paths: [given, absolute, relative(roots[0]!, absolute)] };
}

/** Read, Glob, Grep, Write and Edit over the given roots. */
export function fileTools(roots: () => string[], paths: PathGuard): Tool[] {
  const where = () => `the workspace (${roots().join(", ")})`;
  const builtin = (id: string, description: string, properties: Record<string, unknown>, required: string[], run: Tool["run"]): Tool => ({
    id, source: "builtin", description, parameters: { type: "object", properties, required }, run, ruleInput: (args) => pathForms(roots(), args),
  });
  return [
    builtin("Read", "Reads a file of the workspace; lines are numbered. Use offset and limit for long files.", {
      file_path: { type: "string", description: "absolute, or relative to the workspace" }, offset: { type: "number", description: "first line (1-based)" }, limit: { type: "number" },
    }, ["file_path"], async (args) => {
      const { real: file, root } = insideWorkspace(paths, roots(), str(args.file_path, "file_path"));
      if (!existsSync(file) || !statSync(file).isFile()) return { text: `No file at ${file}`, isError: true };
      if (statSync(file).size > MAX_FILE_BYTES) return { text: `${file} is larger than ${MAX_FILE_BYTES} bytes`, isError: true };
      const lines = paths.readInside(root, file, where()).toString("utf8").split("\n");
      const start = Math.max(1, Number(args.offset) || 1);
      const count = Math.min(MAX_LINES, Number(args.limit) || MAX_LINES);
      const text = lines.slice(start - 1, start - 1 + count).map((line, i) => `${String(start + i).padStart(6)}\t${line.slice(0, MAX_LINE_CHARS)}`).join("\n");
      return { text: text || "(empty file)", isError: false };
    }),
    builtin("Glob", "Finds files of the workspace by a glob pattern (**/*.ts).", {
      pattern: { type: "string" }, path: { type: "string", description: "folder to search (default: the workspace)" },
    }, ["pattern"], async (args) => {
      const { real: dir, root } = insideWorkspace(paths, roots(), typeof args.path === "string" && args.path ? args.path : roots()[0] ?? ".");
      const pattern = str(args.pattern, "pattern");
      const found = walk(paths, dir, root).filter((f) => runtime.globMatch(pattern, f.path)).slice(0, MAX_MATCHES).map((f) => join(dir, f.path));
      return { text: found.join("\n") || "No files found", isError: false };
    }),
    builtin("Grep", "Searches file contents of the workspace with a regular expression.", {
      pattern: { type: "string" }, path: { type: "string" }, glob: { type: "string", description: "only files matching this glob" },
      output_mode: { type: "string", enum: ["content", "files_with_matches", "count"], description: "default files_with_matches" }, "-i": { type: "boolean" },
    }, ["pattern"], async (args) => {
      const { real: target, root } = insideWorkspace(paths, roots(), typeof args.path === "string" && args.path ? args.path : roots()[0] ?? ".");
      const regex = new RegExp(str(args.pattern, "pattern"), args["-i"] === true ? "i" : "");
      const glob = typeof args.glob === "string" ? args.glob : null;
      if (!existsSync(target)) return { text: `No file or folder at ${target}`, isError: true };
      const files = statSync(target).isFile() ? [{ shown: target, real: target }] : walk(paths, target, root).filter((f) => !glob || runtime.globMatch(glob, f.path)).map((f) => ({ shown: join(target, f.path), real: f.real }));
      const mode = args.output_mode ?? "files_with_matches";
      const out: string[] = [];
      for (const { shown: file, real } of files) {
        if (out.length >= MAX_MATCHES || statSync(real).size > MAX_FILE_BYTES) continue;
        const lines = paths.readInside(root, real, where()).toString("utf8").split("\n");
        const hits = lines.flatMap((line, i) => (regex.test(line) ? [`${file}:${i + 1}:${line.slice(0, MAX_LINE_CHARS)}`] : []));
        if (hits.length === 0) continue;
        if (mode === "content") out.push(...hits.slice(0, MAX_MATCHES - out.length));
        else out.push(mode === "count" ? `${file}:${hits.length}` : file);
      }
      return { text: out.join("\n") || "No matches found", isError: false };
    }),
    builtin("Write", "Writes a file of the workspace (creating folders), replacing what was there.", {
      file_path: { type: "string" }, content: { type: "string" },
    }, ["file_path", "content"], async (args) => {
      const { real: file, root } = insideWorkspace(paths, roots(), str(args.file_path, "file_path"));
      if (typeof args.content !== "string") throw new Error("'content' is required (a string)");
      mkdirSync(dirname(file), { recursive: true });
      paths.writeInside(root, file, args.content, where());
      return { text: `Wrote ${args.content.length} characters to ${file}`, isError: false };
    }),
    builtin("Edit", "Replaces old_string with new_string in a file of the workspace (old_string must be unique unless replace_all).", {
      file_path: { type: "string" }, old_string: { type: "string" }, new_string: { type: "string" }, replace_all: { type: "boolean" },
    }, ["file_path", "old_string", "new_string"], async (args) => {
      const { real: file, root } = insideWorkspace(paths, roots(), str(args.file_path, "file_path"));
      const oldString = str(args.old_string, "old_string");
      if (typeof args.new_string !== "string") throw new Error("'new_string' is required (a string)");
      if (!existsSync(file)) return { text: `No file at ${file}`, isError: true };
      const text = paths.readInside(root, file, where()).toString("utf8");
      const count = text.split(oldString).length - 1;
      if (count === 0) return { text: `old_string was not found in ${file}`, isError: true };
      if (count > 1 && args.replace_all !== true) return { text: `old_string occurs ${count} times in ${file}; give more context or set replace_all`, isError: true };
      paths.writeInside(root, file, args.replace_all === true ? text.split(oldString).join(args.new_string) : text.replace(oldString, () => args.new_string as string), where());
      return { text: `Edited ${file} (${args.replace_all === true ? count : 1} replacement${count > 1 && args.replace_all === true ? "s" : ""})`, isError: false };
    }),
  ];
}
