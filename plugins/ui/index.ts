/** ui: the web dashboard. `/` redirects to `/ui`; `/ui/*` serves the single-page app (deep links included); `/ui/assets/*` its hashed files. */
import { definePlugin, GantryError, runtime, t } from "gantry/plugin";
import { DashboardAssets } from "./assets.ts";
import { buildBundle, isBuilt, WEB_DIR } from "./bundle.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";

const html = (description: string) => ({ 200: { description, content: { "text/html": { schema: { type: "string" as const } } } } });
const NO_LIMIT = { min: "public", rateLimit: "none" } as const;

export default definePlugin({
  name: "ui",
  async setup(ctx) {
    // `npm install` (prepare) and `npm test` build the bundle; a missing or stale build (sources edited since) is rebuilt here.
    // The bundler is Bun's: on another runtime a stale build is served as it is.
    if (existsSync(WEB_DIR) && !isBuilt()) {
      if (runtime.name === "bun") {
        ctx.log.info("building the dashboard bundle (dist/ is missing or older than web/)");
        await buildBundle();
      } else ctx.log.warn("the dashboard bundle is missing or older than web/: run `npm run prepare` with Bun");
    }
    const assets = new DashboardAssets(join(ctx.dir, "dist"));
    ctx.routes((app) =>
      app
        .get("/", () => new Response(null, { status: 302, headers: { location: "/ui" } }), {
          role: NO_LIMIT, detail: { summary: "Redirects to the dashboard at /ui", tags: ["ui"], responses: { 302: { description: "Location: /ui" } } },
        })
        .get("/ui", ({ request }) => assets.index(request), {
          role: NO_LIMIT, detail: { summary: "The dashboard (a single-page app; sign-in happens in the page)", tags: ["ui"], responses: html("index.html, revalidated on every load") },
        })
        .get("/ui/assets/:file", ({ params, request }) => {
          const answer = assets.asset(params.file, request);
          if (!answer) throw new GantryError("UI_ASSET_NOT_FOUND", 404, `No dashboard asset '${params.file}' in this build; reload /ui for the current names`);
          return answer;
        }, {
          role: NO_LIMIT, params: t.Object({ file: t.String({ maxLength: 200 }) }),
          detail: { summary: "A hashed dashboard asset (immutable: cached for a year)", tags: ["ui"], responses: {
            200: { description: "JavaScript or CSS, gzip when accepted", content: { "text/javascript": { schema: { type: "string" as const } }, "text/css": { schema: { type: "string" as const } } } },
            404: { description: "{error, code, details}: no such file in this build" },
          } },
        })
        .get("/ui/*", ({ request }) => assets.index(request), {
          role: NO_LIMIT, detail: { summary: "Deep links into the dashboard answer the same page; the app routes in the browser", tags: ["ui"], responses: html("index.html") },
        }), { prefix: "" });
  },
});
