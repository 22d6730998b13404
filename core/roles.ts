/** Roles as an Elysia macro: every route declares `{ role }`, which is checked and documented in OpenAPI. */
import { Elysia } from "elysia";
import type { Identity } from "./auth.ts";
import { Errors, GantryError } from "./errors.ts";

export const ROLES = ["public", "viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];
/** A route role; "inference" routes accept inference keys as well as any viewer or higher. */
export type RouteRole = Role | "inference";

const RANK: Record<Role, number> = { public: 0, viewer: 1, operator: 2, admin: 3 };

/** The OpenAPI extension that carries a route's role (read by the route check and the auth matrix). */
export const ROLE_EXTENSION = "x-gantry-role";

/** Throws 401/403 unless `identity` may call a route that requires `required`. */
export function assertRole(identity: Identity | undefined, required: RouteRole): void {
  if (required === "public") return;
  if (!identity || identity.role === "public") throw Errors.UNAUTHORIZED([]);
  if (identity.role === "inference") {
    if (required === "inference") return;
    throw new GantryError("FORBIDDEN", 403, "Inference keys can only call /v1/* and /api/v1/inference/*");
  }
  const need = required === "inference" ? "viewer" : required;
  if (RANK[identity.role] < RANK[need]) throw Errors.FORBIDDEN([need, identity.role]);
}

/**
 * The macro plugin. `identify` resolves the caller (set by the server for each request).
 * Its name makes Elysia deduplicate it across plugin sub-apps.
 */
export function rolesPlugin(identify: (request: Request) => Identity | undefined) {
  return new Elysia({ name: "gantry-roles" }).macro({
    role: (required: RouteRole) =>
      required === "public"
        ? { detail: { [ROLE_EXTENSION]: required } } // no hook at all on public routes: nothing to check
        : {
            detail: { [ROLE_EXTENSION]: required, security: [{ apiKey: [] }] },
            // transform runs before schema validation, so a caller without the role learns nothing about the schema.
            transform({ request }: { request: Request }) {
              assertRole(identify(request), required);
            },
          },
  });
}

export type RolesApp = ReturnType<typeof rolesPlugin>;
