/** The OIDC routes: sign-in through a provider, its callback, and the admin configuration. */
import { t } from "elysia";
import type { AuditLog } from "./audit.ts";
import type { GantryError } from "../kernel/errors.ts";
import type { Logger } from "../kernel/logger.ts";
import { SessionSchema, UserRoleSchema, UserSchema } from "./auth-routes.ts";
import { OidcErrors, type OidcService } from "./oidc.ts";
import type { RolesApp } from "./roles.ts";
import type { SessionService } from "./sessions.ts";

export interface OidcRouteParts {
  oidc: OidcService;
  sessions: SessionService;
  audit: AuditLog;
  clientIp(request: Request): string | null;
  log: Logger;
}

/**
 * The answer to an anonymous caller whose sign-in failed: the code and status only. The provider's
 * own text can hold anything (a careless one echoed client_id:client_secret and the PKCE verifier),
 * so it goes to the server log, never to the client or the audit log.
 */
function fixedFailure(error: unknown): GantryError {
  const code = (error as { code?: string }).code ?? "OIDC_LOGIN_REJECTED";
  const status = (error as { status?: number }).status ?? 401;
  if (code === OidcErrors.OIDC_STATE_INVALID.code || code === OidcErrors.OIDC_NOT_CONFIGURED.code) return error as GantryError; // fixed texts already
  return status >= 500 ? OidcErrors.OIDC_PROVIDER_UNREACHABLE(["sign-in endpoints", "see the server log"]) : OidcErrors.OIDC_LOGIN_REJECTED(["see the server log"]);
}

const ConfigFields = {
  enabled: t.Boolean(),
  issuer: t.String({ format: "uri", maxLength: 2048, description: "the provider's issuer URL; its /.well-known/openid-configuration is read" }),
  client_id: t.String({ minLength: 1, maxLength: 512 }),
  redirect_uri: t.String({ format: "uri", maxLength: 2048, description: "gantry's callback as registered with the provider: <gantry URL>/api/v1/auth/oidc/callback" }),
  scopes: t.Array(t.String({ maxLength: 200 }), { maxItems: 50, description: "must include openid" }),
  default_role: UserRoleSchema,
  role_claim: t.Union([t.String({ maxLength: 200 }), t.Null()], { description: "claim whose values role_map maps to roles; then the provider decides the role at every sign-in" }),
  role_map: t.Record(t.String(), UserRoleSchema),
};
const ConfigView = t.Object({ ...ConfigFields, client_secret: t.String({ description: "[set] or empty: never shown" }) });

export function oidcRoutes(p: OidcRouteParts) {
  return (app: RolesApp) =>
    app
      .get("/api/v1/auth/oidc/login", async ({ query }) => Response.redirect(await p.oidc.authorizationUrl(query.login_hint), 302), {
        role: { min: "public", rateLimit: "login" },
        query: t.Object({ login_hint: t.Optional(t.String({ maxLength: 256, description: "passed on to the provider" })) }),
        detail: { summary: "Start OIDC sign-in: 302 to the provider", tags: ["auth"], responses: { 302: { description: "to the provider's authorization endpoint" } } },
      })
      .get("/api/v1/auth/oidc/callback", async ({ query, request }) => {
        const ip = p.clientIp(request);
        try {
          const { user } = await p.oidc.complete(query);
          await p.audit.record({ actor: `user:${user.username}`, role: user.role, action: "auth.login", route: "/api/v1/auth/oidc/callback", status: 200, ip, detail: JSON.stringify({ via: "oidc" }) });
          return { ...(await p.sessions.start(user)), user };
        } catch (error) {
          const answer = fixedFailure(error);
          p.log.warn({ err: (error as Error).message, code: answer.code, ip }, "OIDC sign-in failed");
          await p.audit.record({ actor: "oidc", role: "none", action: "auth.login", route: "/api/v1/auth/oidc/callback", status: answer.status, ip, detail: JSON.stringify({ via: "oidc", error: answer.code }) });
          throw answer;
        }
      }, {
        role: { min: "public", rateLimit: "login" },
        query: t.Object({
          code: t.Optional(t.String({ maxLength: 4096 })), state: t.Optional(t.String({ maxLength: 512 })),
          error: t.Optional(t.String({ maxLength: 256 })), error_description: t.Optional(t.String({ maxLength: 2048 })),
        }),
        response: t.Object({ ...SessionSchema.properties, user: UserSchema }),
        detail: { summary: "The provider's redirect back: the code is exchanged, the ID token verified, a gantry session issued", tags: ["auth"] },
      })
      .get("/api/v1/auth/oidc/config", () => p.oidc.view(), {
        role: "admin", response: ConfigView, detail: { summary: "The OIDC configuration (the client secret is never shown)", tags: ["auth"] },
      })
      .put("/api/v1/auth/oidc/config", ({ body }) => p.oidc.configure(body), {
        role: "admin",
        body: t.Object({ ...ConfigFields, client_secret: t.Optional(t.String({ maxLength: 1024, description: "absent: keep the stored one" })) }),
        response: ConfigView,
        detail: { summary: "Configure the OIDC provider; the discovery document is read now (400 when it cannot be; 422 OUTBOUND_ADDRESS_REFUSED for an issuer on a non-public address outbound.allow does not list)", tags: ["auth"] },
      });
}
