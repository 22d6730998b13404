/** Assembles authentication, sessions, rate limits and the audit log, and does the first-start bootstrap. */
import { randomBytes } from "node:crypto";
import { ApiKeyAuthenticator } from "./api-keys.ts";
import { AuditLog } from "./audit.ts";
import { Authenticator } from "./authenticator.ts";
import { authRoutes } from "./auth-routes.ts";
import { OidcService } from "./oidc.ts";
import { oidcRoutes } from "./oidc-routes.ts";
import type { RolesApp } from "./roles.ts";
import type { ConfigManager } from "../kernel/config-manager.ts";
import type { Logger } from "../kernel/logger.ts";
import type { OutboundGuard } from "../kernel/outbound-guard.ts";
import type { DatabaseHandle } from "../storage/db.ts";
import { RateLimiter, type SharedCounts } from "../http/rate-limit.ts";
import { createRequestGuards } from "../http/request-guards.ts";
import { SecretBox } from "./secret-box.ts";
import { SessionService } from "./sessions.ts";
import { settingOrGenerate } from "../kernel/settings.ts";
import { UserStore } from "./users.ts";

export interface SecurityOptions {
  database: DatabaseHandle;
  config: ConfigManager;
  /** Shows first-start credentials once (stdout by default; never the logger). */
  announce: (text: string) => void;
  /** GANTRY_ADMIN_PASSWORD, if set. */
  adminPassword?: string;
  /** Where failures that clients see only as a fixed message are written in full. */
  log: Logger;
  /** Checks the OIDC provider's addresses (discovery, token endpoint, keys). */
  outbound: OutboundGuard;
  /** Cluster mode: rate-limit counts shared with the other nodes. */
  sharedRateCounts?: SharedCounts;
}

export type Security = Awaited<ReturnType<typeof createSecurity>>;

export async function createSecurity(options: SecurityOptions) {
  const { database: { db }, config } = options;
  const initial = config.current;
  const keys = new ApiKeyAuthenticator(db);
  const users = new UserStore(db);
  const jwtSecret = (await settingOrGenerate(db, "jwt_secret", initial.auth.jwt_secret)).value;
  const internalKey = await settingOrGenerate(db, "internal_key", initial.auth.internal_key);
  const sessions = new SessionService(db, jwtSecret, () => ({ accessS: config.current.auth.access_token_ttl_s, refreshS: config.current.auth.refresh_token_ttl_s }));
  await Promise.all([keys.reload(), users.reload(), sessions.reload()]);
  const authenticator = new Authenticator(keys, sessions, users, internalKey.value);
  const audit = new AuditLog(db);
  const secrets = SecretBox.fromConfig(initial.data_dir, initial.auth.secret_key, initial.auth.previous_secret_keys);
  const oidc = new OidcService(db, users, secrets, options.outbound);
  await oidc.reseal();
  const limiter = new RateLimiter(() => ({
    regular: config.current.rate_limit.regular_per_minute,
    expensive: config.current.rate_limit.expensive_per_minute,
    login: config.current.rate_limit.login_per_minute,
  }), options.sharedRateCounts);
  let exempt = new Set(initial.rate_limit.exempt_paths);
  config.onChange((next) => (exempt = new Set(next.rate_limit.exempt_paths)));
  const guards = createRequestGuards({ limiter, audit, enabled: () => config.current.rate_limit.enabled, exemptPaths: () => exempt });

  const lines: string[] = [];
  // Nodes of a cluster starting together on an empty database: one bootstraps, the others find its keys and user.
  await options.database.exclusive("bootstrap", async () => {
    await Promise.all([keys.reload(), users.reload()]);
    const firstKeys = await keys.bootstrap(initial.auth.bootstrap_admin_key);
    if (firstKeys) {
      lines.push(initial.auth.bootstrap_admin_key ? "admin key:     (the configured auth.bootstrap_admin_key)" : `admin key:     ${firstKeys.admin}`);
      lines.push(`inference key: ${firstKeys.inference}`);
    }
    if (users.count === 0) {
      const generated = !options.adminPassword;
      const password = options.adminPassword || randomBytes(18).toString("base64url");
      await users.create("admin", password, "admin");
      lines.push(generated ? `user admin, password: ${password}` : "user admin, password: (from GANTRY_ADMIN_PASSWORD)");
    }
  });
  if (internalKey.created) lines.push(`internal key (X-Internal-Auth): ${internalKey.value}`);
  if (lines.length > 0) options.announce(`\nFirst start: credentials created. They are shown only now; store them.\n${lines.map((l) => `  ${l}\n`).join("")}\n`);

  return {
    keys, users, sessions, authenticator, audit, limiter, guards, secrets,
    oidc,
    routes: (clientIp: (request: Request) => string | null) => (app: RolesApp) =>
      oidcRoutes({ oidc, sessions, audit, clientIp, log: options.log })(authRoutes({ authenticator, keys, users, sessions, audit, clientIp })(app) as unknown as RolesApp),
    /** Hot-path caches, for POST /api/v1/infra/cache-invalidate. */
    invalidators: {
      api_keys: () => keys.reload(),
      users: () => users.reload(),
      sessions: () => sessions.reload(),
    } as Record<string, () => Promise<void>>,
  };
}
