/** /api/v1/auth/* (login, refresh, logout, whoami, API keys, users) and /api/v1/audit. */
import { t } from "elysia";
import { Nullable, QueryCursor, QueryLimit } from "../http/schema-helpers.ts";
import type { ApiKeyAuthenticator } from "./api-keys.ts";
import type { AuditLog } from "./audit.ts";
import type { Authenticator } from "./authenticator.ts";
import { createError, defineErrors, Errors } from "../kernel/errors.ts";
import type { RolesApp } from "./roles.ts";
import type { SessionService } from "./sessions.ts";
import type { UserStore } from "./users.ts";

export const AuthErrors = defineErrors("core", {
  NOT_A_SESSION: createError("NOT_A_SESSION", 400, () => "Logout ends a login session (access token); revoke API keys at DELETE /api/v1/auth/keys/{id}"),
  KEY_NOT_FOUND: createError("KEY_NOT_FOUND", 404, (id: string) => `No API key with id '${id}'`),
});

export interface AuthRouteParts {
  authenticator: Authenticator;
  keys: ApiKeyAuthenticator;
  users: UserStore;
  sessions: SessionService;
  audit: AuditLog;
  clientIp(request: Request): string | null;
}

export const UserRoleSchema = t.Union([t.Literal("viewer"), t.Literal("operator"), t.Literal("admin")]);
const KeyRoleSchema = t.Union([t.Literal("viewer"), t.Literal("operator"), t.Literal("admin"), t.Literal("inference")]);
const Username = t.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9._@-]+$" });
const Password = t.String({ minLength: 8, maxLength: 256 });
export const UserSchema = t.Object({ id: t.String(), username: t.String(), role: UserRoleSchema, disabled: t.Boolean(), created_at: t.String(), updated_at: t.String() });
export const SessionSchema = t.Object({
  access_token: t.String(), token: t.String(), token_type: t.Literal("Bearer"), expires_at: t.String(),
  refresh_token: t.String(), refresh_expires_at: t.String(),
});
const Ok = t.Object({ ok: t.Literal(true) });
const WhoAmI = t.Object({
  subject: t.String(), role: t.String(), via: t.Union([t.Literal("anonymous"), t.Literal("api_key"), t.Literal("jwt")]),
  user: Nullable(UserSchema), claims: Nullable(t.Record(t.String(), t.Unknown())),
});
const AuditPage = t.Object({
  entries: t.Array(t.Object({
    id: t.Integer(), at: t.String(), actor: t.String(), role: t.String(), action: t.String(), route: t.String(), target: Nullable(t.String()),
    status: t.Integer(), request_id: Nullable(t.String()), ip: Nullable(t.String()), detail: Nullable(t.String({ description: "JSON the action reports, if any" })),
  })),
  next_before_id: Nullable(t.Integer({ description: "pass as before_id for the next (older) page; null on the last" })),
});
/** An inference key's scope and limits (any key may carry them; they apply on the inference routes, expiry everywhere). */
const KeyLimitFields = {
  models: t.Optional(Nullable(t.Array(t.String({ minLength: 1, maxLength: 128 }), { maxItems: 256, uniqueItems: true, description: "model ids (names or aliases) the key may reach on the inference routes; an alias allows its instance under every id; null = every model" }))),
  expires_at: t.Optional(Nullable(t.String({ format: "date-time", description: "ISO 8601; the key is refused (401) from then on; null = never" }))),
  requests_per_minute: t.Optional(t.Integer({ minimum: 0, maximum: 1_000_000, description: "inference requests per minute; 0 = no limit (429 with Retry-After past it)" })),
  tokens_per_minute: t.Optional(t.Integer({ minimum: 0, maximum: 1_000_000_000, description: "prompt + completion tokens per minute as the model servers report them; 0 = no limit" })),
};
const KeyView = t.Object({
  id: t.String(), name: t.String(), prefix: t.String(), role: KeyRoleSchema, created_at: t.String(), revoked_at: t.Union([t.String(), t.Null()]),
  models: Nullable(t.Array(t.String())), expires_at: Nullable(t.String()), requests_per_minute: t.Integer(), tokens_per_minute: t.Integer(),
});
/** The body's limits with the expiry as a Date. */
const limitsOf = (body: { models?: string[] | null; expires_at?: string | null; requests_per_minute?: number; tokens_per_minute?: number }) =>
  ({ ...body, expires_at: body.expires_at === undefined ? undefined : body.expires_at === null ? null : new Date(body.expires_at) });

export function authRoutes(p: AuthRouteParts) {
  const whoami = async (request: Request) => (await p.authenticator.identify(request))!;
  return (app: RolesApp) =>
    app
      .post("/api/v1/auth/login", async ({ body, request }) => {
        // What was typed as a username may be a password typed into the wrong field: unknown names are not recorded.
        const record = async (status: number, role: string) =>
          p.audit.record({ actor: status === 200 || (await p.users.exists(body.username)) ? `user:${body.username}` : "unknown", role, action: "auth.login", route: "/api/v1/auth/login", status, ip: p.clientIp(request) });
        const user = await p.users.verify(body.username, body.password).catch(async (error) => {
          await record(401, "none");
          throw error;
        });
        await record(200, user.role);
        return { ...(await p.sessions.start(user)), user };
      }, {
        role: { min: "public", rateLimit: "login" },
        body: t.Object({ username: t.String({ minLength: 1, maxLength: 64 }), password: t.String({ minLength: 1, maxLength: 256 }) }),
        response: t.Object({ ...SessionSchema.properties, user: UserSchema }),
        detail: { summary: "Username and password → access token (JWT), refresh token and expiry", tags: ["auth"] },
      })
      .post("/api/v1/auth/refresh", ({ body }) => p.sessions.refresh(body.refresh_token, (id) => {
        const user = p.users.lookup(id);
        return user && !user.disabled ? user.username : undefined;
      }), {
        role: { min: "public", rateLimit: "login" },
        body: t.Object({ refresh_token: t.String({ minLength: 1, maxLength: 200 }) }),
        response: SessionSchema,
        detail: { summary: "Rotate: a refresh token → a new access and refresh token. Reusing an old refresh token revokes the session", tags: ["auth"] },
      })
      .post("/api/v1/auth/logout", async ({ request }) => {
        const identity = await whoami(request);
        if (identity.via !== "jwt" || !identity.sessionId) throw AuthErrors.NOT_A_SESSION([]);
        await p.sessions.revoke(identity.sessionId, "logout");
        return { ok: true as const };
      }, { role: "viewer", response: Ok, detail: { summary: "End this login session: its access and refresh tokens stop working", tags: ["auth"] } })
      .get("/api/v1/auth/whoami", async ({ request }) => {
        const identity = await whoami(request);
        const user = identity.userId ? await p.users.get(identity.userId) : null;
        return { subject: identity.subject, role: identity.role, via: identity.via, user, claims: identity.claims ?? null };
      }, { role: "viewer", response: WhoAmI, detail: { summary: "The caller: subject, role, how authenticated, user and token claims", tags: ["auth"] } })
      .get("/api/v1/auth/keys", async () => ({ keys: await p.keys.list() }), {
        role: "admin", response: t.Object({ keys: t.Array(KeyView) }), detail: { summary: "API keys (never their secrets)", tags: ["auth"] },
      })
      .post("/api/v1/auth/keys", async ({ body, set }) => {
        const { name, role, ...limits } = body;
        const { id, key } = await p.keys.create(name, role, undefined, limitsOf(limits));
        set.status = 201;
        return { ...(await p.keys.list()).find((k) => k.id === id)!, key };
      }, {
        role: "admin",
        body: t.Object({ name: t.String({ minLength: 1, maxLength: 100 }), role: KeyRoleSchema, ...KeyLimitFields }),
        response: { 201: t.Object({ ...KeyView.properties, key: t.String({ description: "the secret: shown only here" }) }) },
        detail: { summary: "Create an API key; the secret is in this response only", tags: ["auth"] },
      })
      .patch("/api/v1/auth/keys/:id", async ({ params, body }) => {
        if (!(await p.keys.setLimits(params.id, limitsOf(body)))) throw AuthErrors.KEY_NOT_FOUND([params.id]);
        return (await p.keys.list()).find((k) => k.id === params.id)!;
      }, {
        role: "admin", params: t.Object({ id: t.String({ maxLength: 64 }) }), body: t.Object(KeyLimitFields), response: KeyView,
        detail: { summary: "Change a key's model scope, expiry or per-minute limits; applies to the next request", tags: ["auth"] },
      })
      .delete("/api/v1/auth/keys/:id", async ({ params }) => {
        if (!(await p.keys.revoke(params.id))) throw AuthErrors.KEY_NOT_FOUND([params.id]);
        return { ok: true as const };
      }, { role: "admin", params: t.Object({ id: t.String({ maxLength: 64 }) }), response: Ok, detail: { summary: "Revoke an API key", tags: ["auth"] } })
      .get("/api/v1/auth/users", async () => ({ users: await p.users.list() }), {
        role: "admin", response: t.Object({ users: t.Array(UserSchema) }), detail: { summary: "Users", tags: ["auth"] },
      })
      .post("/api/v1/auth/users", async ({ body, set }) => {
        const user = await p.users.create(body.username, body.password, body.role);
        set.status = 201;
        return user;
      }, {
        role: "admin",
        body: t.Object({ username: Username, password: Password, role: UserRoleSchema }),
        response: { 201: UserSchema },
        detail: { summary: "Create a user", tags: ["auth"] },
      })
      .patch("/api/v1/auth/users/:id", async ({ params, body }) => {
        if (body.role === undefined && body.disabled === undefined) throw Errors.BAD_REQUEST(["Send role and/or disabled"]);
        const user = await p.users.update(params.id, body);
        if (body.disabled) await p.sessions.revokeUser(params.id, "user disabled");
        return user;
      }, {
        role: "admin",
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        body: t.Object({ role: t.Optional(UserRoleSchema), disabled: t.Optional(t.Boolean()) }),
        response: UserSchema,
        detail: { summary: "Change a user's role, or disable/enable them (disabling ends their sessions)", tags: ["auth"] },
      })
      .post("/api/v1/auth/users/:id/password", async ({ params, body }) => {
        await p.users.setPassword(params.id, body.password);
        await p.sessions.revokeUser(params.id, "password reset");
        return { ok: true as const };
      }, {
        role: "admin",
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        body: t.Object({ password: Password }),
        response: Ok,
        detail: { summary: "Reset a user's password (ends their sessions)", tags: ["auth"] },
      })
      .get("/api/v1/audit", ({ query }) => p.audit.query(query), {
        role: "admin",
        query: t.Object({
          actor: t.Optional(t.String({ maxLength: 200 })),
          action: t.Optional(t.String({ maxLength: 200 })),
          route: t.Optional(t.String({ maxLength: 200 })),
          status: t.Optional(t.Numeric({ multipleOf: 1, minimum: 100, maximum: 599 })),
          since: t.Optional(t.String({ format: "date-time" })),
          until: t.Optional(t.String({ format: "date-time" })),
          before_id: QueryCursor(1),
          limit: QueryLimit(1000),
        }),
        response: AuditPage,
        detail: { summary: "Audit log, newest first; page with before_id", tags: ["auth"] },
      });
}
