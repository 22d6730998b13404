/**
 * CORS for browser clients (off until `server.cors.origins` lists some): preflights are answered
 * before routing and auth, and allowed origins get Access-Control-* headers on every response.
 */

export interface CorsSettings {
  origins: string[];
  methods: string[];
  headers: string[];
  expose_headers: string[];
  allow_credentials: boolean;
  max_age_s: number;
}

export interface CorsPolicy {
  /** The headers for an actual request from `origin`; undefined when the origin is not allowed. */
  responseHeaders(origin: string): Record<string, string> | undefined;
  /** The answer to a preflight; undefined when `request` is not one or its origin is not allowed. */
  preflight(request: Request): Response | undefined;
}

/** The policy for `settings`, or null when CORS is off (no origins). */
export function corsPolicy(settings: CorsSettings): CorsPolicy | null {
  if (settings.origins.length === 0) return null;
  const anyOrigin = settings.origins.includes("*");
  const allowed = new Set(settings.origins);
  const base = (origin: string): Record<string, string> => {
    // With credentials a browser refuses "*": the origin itself is echoed, and Vary tells caches so.
    const echo = !anyOrigin || settings.allow_credentials;
    const headers: Record<string, string> = { "access-control-allow-origin": echo ? origin : "*" };
    if (echo) headers.vary = "Origin";
    if (settings.allow_credentials) headers["access-control-allow-credentials"] = "true";
    return headers;
  };
  const permitted = (origin: string) => anyOrigin || allowed.has(origin);
  const methods = settings.methods.join(", ");
  const exposed = settings.expose_headers.join(", ");
  return {
    responseHeaders(origin) {
      if (!permitted(origin)) return undefined;
      const headers = base(origin);
      if (exposed) headers["access-control-expose-headers"] = exposed;
      return headers;
    },
    preflight(request) {
      const origin = request.headers.get("origin");
      const method = request.headers.get("access-control-request-method");
      if (request.method !== "OPTIONS" || !origin || !method || !permitted(origin)) return undefined;
      const asked = request.headers.get("access-control-request-headers");
      const headers = base(origin);
      headers["access-control-allow-methods"] = methods;
      // "*" lets through whatever the browser asks for (SDKs send their own x-stainless-* and anthropic-* headers).
      const allowHeaders = settings.headers.includes("*") ? asked ?? "" : settings.headers.join(", ");
      if (allowHeaders) headers["access-control-allow-headers"] = allowHeaders;
      headers["access-control-max-age"] = String(settings.max_age_s);
      if (settings.headers.includes("*") && asked) headers.vary = headers.vary ? `${headers.vary}, Access-Control-Request-Headers` : "Access-Control-Request-Headers";
      return new Response(null, { status: 204, headers });
    },
  };
}
