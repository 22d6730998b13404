/** Builds the dashboard (web/) into dist/: hashed, minified assets and an index.html that names them. Run directly to build. */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

export const WEB_DIR = join(import.meta.dirname, "web");
export const DIST_DIR = join(import.meta.dirname, "dist");

/** Where the built app is mounted; asset URLs are absolute under it so deep links load them. */
export const UI_BASE = "/ui";

function indexHtml(script: string, style: string | undefined): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>gantry</title>
${style ? `<link rel="stylesheet" href="${UI_BASE}/assets/${style}">\n` : ""}<script type="module" src="${UI_BASE}/assets/${script}"></script>
</head>
<body>
<div id="app"><p>Loading gantry…</p></div>
<noscript>The gantry dashboard needs JavaScript; the API is documented at <a href="/docs">/docs</a>.</noscript>
</body>
</html>
`;
}

/**
 * Bundles web/main.ts with Bun's bundler. Output names carry content hashes, so the same sources give
 * the same files (deterministic) and a changed file gets a new name (immutable caching is safe).
 * Builds into a temporary folder and renames it into place, so a concurrent reader never sees half a build.
 */
export async function buildBundle(outDir = DIST_DIR): Promise<string[]> {
  const staging = `${outDir}.tmp-${process.pid}-${Date.now()}`;
  const result = await Bun.build({
    entrypoints: [join(WEB_DIR, "main.ts")],
    outdir: join(staging, "assets"),
    target: "browser",
    minify: true,
    splitting: true, // rarely used parts (the TOML parser) load on first use, not with the page
    sourcemap: "none",
    naming: { entry: "[name]-[hash].[ext]", chunk: "[name]-[hash].[ext]", asset: "[name]-[hash].[ext]" },
    define: { "process.env.NODE_ENV": '"production"' },
  });
  if (!result.success) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`dashboard build failed:\n${result.logs.map(String).join("\n")}`);
  }
  const names = result.outputs.map((o) => basename(o.path));
  const script = result.outputs.filter((o) => o.kind === "entry-point").map((o) => basename(o.path)).find((n) => n.endsWith(".js"));
  if (!script) throw new Error("dashboard build produced no script");
  writeFileSync(join(staging, "index.html"), indexHtml(script, names.find((n) => n.endsWith(".css"))));
  writeFileSync(join(staging, "source-hash"), sourceHash());
  mkdirSync(join(outDir, ".."), { recursive: true });
  rmSync(outDir, { recursive: true, force: true });
  renameSync(staging, outDir);
  return names;
}

/** A digest of every source file (and this builder): a build records it, so a stale build is noticed. */
export function sourceHash(): string {
  const hash = createHash("sha256").update(readFileSync(import.meta.filename));
  for (const name of readdirSync(WEB_DIR, { recursive: true, encoding: "utf8" }).sort()) {
    const path = join(WEB_DIR, name);
    if (/\.(ts|css)$/.test(name)) hash.update(name).update(readFileSync(path));
  }
  return hash.digest("hex");
}

/** True when dist/ holds a build of the current sources. */
export function isBuilt(outDir = DIST_DIR): boolean {
  const stamp = join(outDir, "source-hash");
  return existsSync(stamp) && readFileSync(stamp, "utf8") === sourceHash();
}

if (import.meta.main) {
  // A current build is left in place: rebuilding swaps the folder, and a gantry serving from this
  // checkout meanwhile (a test run, `npm pack` from a test) would find it gone for a moment.
  if (isBuilt() && !process.argv.includes("--force")) {
    console.log("dashboard up to date");
  } else {
    const started = performance.now();
    const names = await buildBundle();
    console.log(`dashboard built in ${Math.round(performance.now() - started)} ms: ${names.join(", ")}`);
  }
}
