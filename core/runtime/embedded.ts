/** Plugin modules compiled into the single binary, by the path of the entry file they stand for. */
const modules = new Map<string, unknown>();

/** Registers `module` as what importing `entry` gives (the binary's built-in plugins). */
export function embedModule(entry: string, module: unknown): void {
  modules.set(entry, module);
}

/** The compiled-in module for `entry`, if this is a single binary that has one. */
export function embeddedModule(entry: string): unknown {
  return modules.get(entry);
}
