/**
 * The API reference pages, served offline from npm packages: Swagger UI at /docs and ReDoc at
 * /redoc. Both load /openapi.json themselves, sending the `api_key` of the page's own URL, so a
 * viewer opens `/docs?api_key=gk_...` when the docs are not public (server.public_docs).
 */
import { existsSync } from "node:fs";
import { fileStream } from "../runtime/files.ts";
import { packageFile } from "../runtime/install-root.ts";
import { join } from "node:path";
import { Errors } from "../kernel/errors.ts";
import type { RolesApp } from "../auth/roles.ts";
import pkg from "../../package.json" with { type: "json" };

const ASSETS: Record<string, Record<string, string>> = {
  docs: { "swagger-ui-bundle.js": packageFile("swagger-ui-dist", "swagger-ui-bundle.js"), "swagger-ui.css": packageFile("swagger-ui-dist", "swagger-ui.css") },
  redoc: { "redoc.standalone.js": packageFile("redoc", join("bundles", "redoc.standalone.js")) },
};
/** The paths a credential guards unless server.public_docs is set. */
export const DOC_PATHS: ReadonlySet<string> = new Set(["/docs", "/redoc", "/openapi.json"]);

/** Fetches the spec with the page's api_key (if any) and hands it to `render(spec, key)`. */
const loader = (render: string) => `
const key = new URLSearchParams(location.search).get("api_key");
fetch("/openapi.json", { headers: key ? { authorization: "Bearer " + key } : {} })
  .then((r) => (r.ok ? r.json() : r.json().then((e) => Promise.reject(new Error(e.error || r.statusText)))))
  .then((spec) => (${render})(spec, key))
  .catch((e) => { document.body.textContent = "Cannot load /openapi.json: " + e.message + " (open this page with ?api_key=<a viewer key>)"; });`;

const page = (title: string, head: string, body: string) =>
  `<!doctype html>\n<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>${head}</head><body>${body}</body></html>`;

const SWAGGER = page(`${pkg.name} API`, '<link rel="stylesheet" href="/docs/assets/swagger-ui.css">',
  `<div id="swagger-ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script><script>${loader(
    `(spec, key) => SwaggerUIBundle({ spec, dom_id: "#swagger-ui", requestInterceptor: (req) => { if (key && !req.headers.Authorization) req.headers.Authorization = "Bearer " + key; return req; } })`,
  )}</script>`);
const REDOC = page(`${pkg.name} API reference`, "<style>body { margin: 0 }</style>",
  `<div id="redoc"></div><script src="/redoc/assets/redoc.standalone.js"></script><script>${loader(`(spec) => Redoc.init(spec, { hideDownloadButton: false }, document.getElementById("redoc"))`)}</script>`);

/** The pages load nothing from outside gantry (ReDoc's footer logo would come from its CDN). */
const CSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:";
const html = (text: string) => new Response(text, { headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": CSP } });

/** /docs, /redoc and their assets (role checked for the pages by the docs guard in http-app). */
export function docsPages() {
  return (app: RolesApp) => {
    for (const ui of Object.keys(ASSETS)) {
      app.get(`/${ui}/assets/:file`, ({ params }) => {
        const file = ASSETS[ui]![params.file];
        if (!file || !existsSync(file)) throw Errors.NOT_FOUND(["GET", `/${ui}/assets/${params.file}`]);
        return new Response(fileStream(file), { headers: { "cache-control": "public, max-age=86400" } });
      }, { role: { min: "public", rateLimit: "none" }, detail: { hide: true } });
    }
    return app
      .get("/docs", () => html(SWAGGER), { role: { min: "public", rateLimit: "none" }, detail: { hide: true } })
      .get("/redoc", () => html(REDOC), { role: { min: "public", rateLimit: "none" }, detail: { hide: true } });
  };
}
