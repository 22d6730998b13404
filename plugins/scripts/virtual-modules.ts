/** The modules scripts may import, by name; `scripts.allowed_modules` picks which are offered. */
export const VIRTUAL_MODULES: Record<string, string> = {
  // The host API as a module: import gantry from "gantry"; await gantry.config()
  gantry: "const g = globalThis.gantry; export default g;",
  format: `
export const bytes = (n) => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
};
export const duration = (ms) => (ms < 1000 ? ms + " ms" : ms < 60000 ? (ms / 1000).toFixed(1) + " s" : (ms / 60000).toFixed(1) + " min");
export const table = (rows) => {
  if (rows.length === 0) return "";
  const keys = Object.keys(rows[0]);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join("  ").trimEnd();
  return [line(keys), ...rows.map((r) => line(keys.map((k) => r[k])))].join("\\n");
};`,
};

/** The allowed subset; unknown names in the config are reported, not silently ignored. */
export function allowedModules(names: string[]): { modules: Record<string, string>; unknown: string[] } {
  const modules: Record<string, string> = {};
  const unknown: string[] = [];
  for (const name of names) {
    if (Object.hasOwn(VIRTUAL_MODULES, name)) modules[name] = VIRTUAL_MODULES[name]!;
    else unknown.push(name);
  }
  return { modules, unknown };
}
