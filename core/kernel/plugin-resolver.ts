/**
 * Lets plugin files anywhere on disk `import ... from "gantry/plugin"` and get this gantry's API.
 * Bun's runtime onResolve does not see bare specifiers outside node_modules lookups, so an onLoad
 * hook scoped to each plugin folder rewrites that one specifier to core's absolute path.
 */
import { join } from "node:path";

const PLUGIN_API = JSON.stringify(join(import.meta.dir, "..", "plugin-api.ts"));
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*)(["'])gantry\/plugin\2/g;
const LOADERS = { ts: "ts", tsx: "tsx", js: "js", mjs: "js", jsx: "jsx" } as const;
const registered = new Set<string>();

/** Makes `gantry/plugin` resolvable for every source file under `dir` (once per folder). */
export function registerPluginFolder(dir: string): void {
  if (registered.has(dir)) return;
  registered.add(dir);
  const escaped = dir.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  Bun.plugin({
    name: `gantry-plugin-api:${dir}`,
    setup(build) {
      build.onLoad({ filter: new RegExp(`^${escaped}/.*\\.(ts|tsx|js|mjs|jsx)$`) }, async ({ path }) => {
        const extension = path.slice(path.lastIndexOf(".") + 1) as keyof typeof LOADERS;
        const source = await Bun.file(path).text();
        return { contents: source.replace(SPECIFIER, (_, lead: string) => `${lead}${PLUGIN_API}`), loader: LOADERS[extension] };
      });
    },
  });
}
