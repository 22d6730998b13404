/**
 * Routes served without the framework's per-request machinery. A route that opts in (`detail`
 * carries DIRECT_EXTENSION) is found by its exact method and path and run through the same steps
 * every route gets — request id, size limits, CORS, rate limit and role, its own error answers,
 * metrics, audit, the request log — without a context built and hooks walked per request. For the
 * hottest paths (the OpenAI proxy), where that machinery costs as much as the work itself.
 */
import { checkAccess, roleChecked, type RoleChecks, type RoleSpec } from "../auth/roles.ts";

/** Set in a route's `detail`: core serves it directly. The route must read its body as text or not at all, and take no params. */
export const DIRECT_EXTENSION = "x-gantry-direct";

/** What a direct route's handler is given: the parts of Elysia's context such a route may read. */
export interface DirectContext {
  request: Request;
  body: string | undefined;
  path: string;
  route: string;
  params: Record<string, string>;
  set: { status?: number | string; headers: Record<string, unknown> };
}

/** The steps every request goes through, shared with the framework's hooks (http-app.ts). */
export interface RequestSteps {
  /** Request id, CORS, the body-size check: an early answer (preflight, 413), or undefined to go on. */
  begin(request: Request, set: DirectContext["set"]): unknown;
  /** A thrown error as gantry's answer (status set on `set`); `code` is the framework's name for its kind. */
  errorBody(code: string | number, error: unknown, request: Request, set: DirectContext["set"]): unknown;
  /** Metrics, audit and the request log, once the answer is decided. */
  finish(request: Request, route: string, path: string, status: number, params: Record<string, string>): void;
}

/** The route as the framework lists it (`app.routes`): handler, path, hooks. */
interface FrameworkRoute {
  method: string;
  path: string;
  handler: unknown;
  hooks?: { parse?: { fn: unknown }[]; body?: unknown; error?: { fn: unknown }[]; beforeHandle?: { fn: unknown; subType?: string }[]; transform?: unknown[]; afterHandle?: unknown[]; mapResponse?: unknown[] };
}

type ErrorHook = (context: { code: string | number; error: unknown; request: Request; set: DirectContext["set"]; path: string }) => unknown;
export type DirectHandler = (request: Request, path: string) => Promise<Response>;

/**
 * The handler core calls for `route`; throws when the route cannot be served directly (a plugin's
 * mistake, found at registration). `ownErrors`: the route answers its errors with its onError hooks
 * (else core's shape answers them, as the framework's global handler does).
 */
export function directRoute(route: FrameworkRoute, spec: RoleSpec, checks: RoleChecks, steps: RequestSteps, ownErrors: boolean): DirectHandler {
  const parse = route.hooks?.parse?.map((p) => p.fn) ?? [];
  const readsText = parse.length === 1 && parse[0] === "text";
  const readsNothing = parse.length === 1 && parse[0] === "none";
  if ((!readsText && !readsNothing) || route.hooks?.body !== undefined || /[:*]/.test(route.path)) {
    throw new Error(`${route.method} ${route.path}: a direct route reads its body as text or not at all ({ parse: "text" | "none" }), with no body schema and no path params`);
  }
  // The role macro's transform is core's (checkAccess below); any other hook but beforeHandle would be skipped.
  const hooks = route.hooks;
  const macroTransforms = roleChecked(spec, checks.rateLimited) ? 1 : 0;
  const resolves = (hooks?.beforeHandle ?? []).some((h) => h.subType !== undefined && h.subType !== "beforeHandle");
  if ((hooks?.transform?.length ?? 0) > macroTransforms || (hooks?.afterHandle?.length ?? 0) > 0 || (hooks?.mapResponse?.length ?? 0) > 0 || resolves) {
    throw new Error(`${route.method} ${route.path}: a direct route has no transform, resolve, derive, afterHandle or mapResponse hooks (beforeHandle and onError are run)`);
  }
  const handler = route.handler as (context: DirectContext) => unknown;
  // Run in order after the checks and the body; the first to return something answers (cluster forwarding, for one).
  const beforeHandle = (hooks?.beforeHandle ?? []).map((h) => h.fn as (context: DirectContext) => unknown);
  // The route's own error hooks (a plugin's onError, such as an API's own error shape), in order; core's shape otherwise.
  const errorHooks = ownErrors ? (route.hooks?.error ?? []).map((h) => h.fn as ErrorHook) : [];

  return async (request, path) => {
    const set: DirectContext["set"] = { headers: {} };
    const params: Record<string, string> = {};
    let answer: unknown;
    try {
      answer = steps.begin(request, set);
      if (answer === undefined) {
        await checkAccess(checks, spec, { request, path, set });
        const body = readsText ? await request.text() : undefined;
        const context: DirectContext = { request, body, path, route: route.path, params, set };
        for (const hook of beforeHandle) {
          answer = await hook(context);
          if (answer !== undefined) break;
        }
        if (answer === undefined) answer = await handler(context);
      }
    } catch (error) {
      answer = undefined;
      const code = codeOf(error);
      // As the framework does: the error's status stands unless a hook sets another.
      set.status = statusOf(error);
      for (const hook of errorHooks) {
        answer = await hook({ code, error, request, set, path });
        if (answer !== undefined) break;
      }
      if (answer === undefined) answer = steps.errorBody(code, error, request, set);
    }
    const response = toResponse(answer, set);
    steps.finish(request, route.path, path, response.status, params);
    return response;
  };
}

/** The code the framework would give a thrown error (own error hooks read it): the error's own, else UNKNOWN. */
function codeOf(error: unknown): string | number {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" || typeof code === "number" ? code : "UNKNOWN";
}

function statusOf(error: unknown): number {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" && status >= 400 && status < 600 ? status : 500;
}

/** What a handler returned as a Response, with the headers set on the way (request id, CORS, rate-limit). */
function toResponse(answer: unknown, set: DirectContext["set"]): Response {
  if (answer instanceof Response) {
    // As the framework merges them: a header the Response already has (an upstream's, another node's) stays.
    try {
      for (const name in set.headers) if (!answer.headers.has(name)) answer.headers.set(name, String(set.headers[name]));
      return answer;
    } catch {
      // Immutable headers (a fetch answer passed on, under Deno): the same body with a copy of them.
      const headers = new Headers(answer.headers);
      for (const name in set.headers) if (!headers.has(name)) headers.set(name, String(set.headers[name]));
      return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers });
    }
  }
  const status = typeof set.status === "number" ? set.status : 200;
  const headers = set.headers as Record<string, string>;
  if (typeof answer === "string") return new Response(answer, { status, headers: { "content-type": "text/plain;charset=utf-8", ...headers } });
  if (answer === undefined || answer === null) return new Response(null, { status, headers });
  return Response.json(answer, { status, headers });
}
