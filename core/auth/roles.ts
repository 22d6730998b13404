/** Roles as Elysia macros: every route declares `{ role }` (checked, and documented in OpenAPI); `{ rateLimit }` picks its limit class. */
import { Elysia } from "elysia";
import type { Identity } from "./identity.ts";
import { Errors } from "../kernel/errors.ts";
import type { RateClass } from "../http/rate-limit.ts";

export const ROLES = ["public", "viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];
/**
 * A route role. "inference" routes accept inference keys as well as any viewer or higher;
 * "operator|inference" routes accept inference keys and operators or higher;
 * "internal" routes accept the X-Internal-Auth service key or an admin.
 */
export type RouteRole = Role | "inference" | "operator|inference" | "internal";

const RANK: Record<Role, number> = { public: 0, viewer: 1, operator: 2, admin: 3 };

/** OpenAPI extensions that carry a route's role and rate class (read by the route checks and the auth matrix). */
export const ROLE_EXTENSION = "x-gantry-role";
export const RATE_EXTENSION = "x-gantry-rate-limit";

/** Throws 401/403 unless `identity` may call a route that requires `required`. */
export function assertRole(identity: Identity | undefined, required: RouteRole): void {
  if (required === "public") return;
  // A credential that was sent but is not valid is told apart from none at all: clients show the difference.
  if (!identity) throw Errors.INVALID_CREDENTIAL([]);
  if (identity.role === "public") throw Errors.UNAUTHORIZED([]);
  if (identity.role === "inference") {
    if (required === "inference" || required === "operator|inference") return;
    throw Errors.FORBIDDEN(["inference", "inference"]);
  }
  const need: Role = required === "inference" ? "viewer" : required === "operator|inference" ? "operator" : required === "internal" ? "admin" : required;
  if (RANK[identity.role] < RANK[need]) throw Errors.FORBIDDEN([need, identity.role]);
}

/**
 * Internal routes (the cache daemon's paths, for its gateway's key or an admin) answer a refusal in
 * the shape their document fixes for every failure: `{status: "error", message}`.
 */
function assertInternalCaller(identity: Identity | undefined): void {
  const daemonBody = (error: { message: string }) => ({ body: { status: "error", message: error.message } });
  if (!identity || identity.role === "public") throw Errors.UNAUTHORIZED([], daemonBody(Errors.UNAUTHORIZED([])));
  if (identity.role !== "admin") throw Errors.FORBIDDEN(["admin", identity.role], daemonBody(Errors.FORBIDDEN(["admin", identity.role])));
}

export interface RoleChecks {
  identify(request: Request): Promise<Identity | undefined>;
  isInternal(request: Request): boolean;
  /** Counts the request against its rate class; throws 429 when over. Undefined when the request is not limited (exempt path). */
  rateLimit(context: { request: Request; path: string; set: { headers: Record<string, unknown> } }, rateClass: RateClass): Promise<void> | undefined;
  /** Whether rate limiting is on: off, routes are compiled without the check (the app is rebuilt when it changes). */
  rateLimited: boolean;
}

/** A route's access rule: a role, or a role with a rate-limit class. */
export type RoleSpec = RouteRole | { min: RouteRole; rateLimit: RateClass | "none" };

const roleOf = (spec: RoleSpec): RouteRole => (typeof spec === "string" ? spec : spec.min);
const rateOf = (spec: RoleSpec): RateClass | "none" => (typeof spec === "string" ? "regular" : spec.rateLimit);

/** Whether a route with `spec` has a check to run per request (else the macro adds no hook at all). */
export const roleChecked = (spec: RoleSpec, rateLimited: boolean): boolean => roleOf(spec) !== "public" || (rateOf(spec) !== "none" && rateLimited);

/**
 * The macro plugin: `{ role: "viewer" }`, or `{ role: { min: "operator", rateLimit: "expensive" } }`
 * for resource-intensive routes. Its name makes Elysia deduplicate it across plugin sub-apps.
 */
export function rolesPlugin(checks: RoleChecks) {
  return new Elysia({ name: "gantry-roles" }).macro({
    role: (spec: RoleSpec) =>
      !roleChecked(spec, checks.rateLimited)
        ? { detail: { [ROLE_EXTENSION]: roleOf(spec), [RATE_EXTENSION]: rateOf(spec) } } // probes, docs, public routes while not limited: no hook at all
        : {
            detail: { [ROLE_EXTENSION]: roleOf(spec), [RATE_EXTENSION]: rateOf(spec), security: roleOf(spec) === "public" ? [] : [{ apiKey: [] }] },
            // transform runs before schema validation, so a caller without the role learns nothing about the schema.
            // Destructured: Elysia reads the parameter to decide what to prepare per request, and a
            // context passed on whole makes it parse cookies, query and headers on every route.
            transform: ({ request, path, set }: AccessContext) => checkAccess(checks, spec, { request, path, set }),
          },
  });
}

export interface AccessContext {
  request: Request;
  path: string;
  set: { headers: Record<string, unknown> };
}

/** A route's rate limit and role checks for one request: throws 429/401/403 (the role macro's transform, and direct routes). */
export async function checkAccess(checks: RoleChecks, spec: RoleSpec, context: AccessContext): Promise<void> {
  const required = roleOf(spec);
  const rateClass = rateOf(spec);
  if (rateClass !== "none" && checks.rateLimited) {
    const limited = checks.rateLimit(context, rateClass);
    if (limited) await limited;
  }
  const request = context.request;
  if (required === "public" || (required === "internal" && checks.isInternal(request))) return;
  if (required !== "internal") return assertRole(await checks.identify(request), required);
  assertInternalCaller(await checks.identify(request));
}

export type RolesApp = ReturnType<typeof rolesPlugin>;
