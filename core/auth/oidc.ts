/**
 * OpenID Connect sign-in (/api/v1/auth/oidc/*): the authorization code flow with PKCE,
 * state and nonce; the ID token verified against the provider's JWKS (jose); the provider's
 * (issuer, subject) linked to a gantry user, whose role may follow a claim. The result is an
 * ordinary gantry session (access + refresh token).
 */
import { createHash, randomBytes } from "node:crypto";
import { and, desc, eq, lt, lte } from "drizzle-orm";
import type { createRemoteJWKSet, JWTPayload } from "jose";
import type { GantryDb } from "../storage/db.ts";
import { createError, defineErrors, GantryError } from "../kernel/errors.ts";
import { OutboundErrors, type OutboundGuard } from "../kernel/outbound-guard.ts";
import { coreTables } from "../storage/tables.ts";
import type { SecretBox } from "./secret-box.ts";
import type { UserRole, UserStore, UserView } from "./users.ts";

export const OidcErrors = defineErrors("core", {
  OIDC_NOT_CONFIGURED: createError("OIDC_NOT_CONFIGURED", 404, () => "OIDC sign-in is not configured (PUT /api/v1/auth/oidc/config)"),
  OIDC_PROVIDER_UNREACHABLE: createError("OIDC_PROVIDER_UNREACHABLE", 502, (what: string, why: string) => `The OIDC provider's ${what} could not be read: ${why}`),
  OIDC_STATE_INVALID: createError("OIDC_STATE_INVALID", 400, () => "Unknown or expired sign-in state: start again at /api/v1/auth/oidc/login"),
  OIDC_LOGIN_REJECTED: createError("OIDC_LOGIN_REJECTED", 401, (why: string) => `OIDC sign-in failed: ${why}`),
  OIDC_CONFIG_INVALID: createError("OIDC_CONFIG_INVALID", 400, (why: string) => `OIDC configuration rejected: ${why}`),
});

export interface OidcConfig {
  enabled: boolean;
  issuer: string;
  client_id: string;
  client_secret: string;
  /** gantry's callback as registered with the provider: https://<host>/api/v1/auth/oidc/callback */
  redirect_uri: string;
  scopes: string[];
  default_role: UserRole;
  /** A claim (string or list) whose values `role_map` turns into roles; the highest wins. */
  role_claim: string | null;
  role_map: Record<string, UserRole>;
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  token_endpoint_auth_methods_supported?: string[];
}

const SETTING = "oidc_config";
const PENDING_TTL_MS = 10 * 60_000;
const MAX_PENDING = 10_000;
const DISCOVERY_TTL_MS = 10 * 60_000;
const RANK: Record<UserRole, number> = { viewer: 1, operator: 2, admin: 3 };
const b64url = (bytes: Buffer) => bytes.toString("base64url");

export class OidcService {
  readonly #discovery = new Map<string, { doc: Discovery; at: number }>();
  readonly #jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  readonly #tables: ReturnType<typeof coreTables>;

  constructor(private readonly db: GantryDb, private readonly users: UserStore, private readonly secrets: SecretBox, private readonly outbound: OutboundGuard) {
    this.#tables = coreTables(db);
  }

  /** The stored configuration, client secret opened (it is sealed at rest). */
  async config(): Promise<OidcConfig | undefined> {
    const stored = await this.#stored();
    return stored ? { ...stored, client_secret: stored.client_secret ? this.secrets.open(stored.client_secret) : "" } : undefined;
  }

  /** Seals a client secret stored in plain text or with a previous key (at start). */
  async reseal(): Promise<void> {
    const stored = await this.#stored();
    if (stored?.client_secret && this.secrets.needsReseal(stored.client_secret)) await this.#write((await this.config())!);
  }

  async #stored(): Promise<OidcConfig | undefined> {
    const { coreSettings } = this.#tables;
    const [row] = await this.db.select().from(coreSettings).where(eq(coreSettings.key, SETTING));
    return row ? (JSON.parse(row.value) as OidcConfig) : undefined;
  }

  async #write(config: OidcConfig): Promise<void> {
    const value = JSON.stringify({ ...config, client_secret: config.client_secret ? this.secrets.seal(config.client_secret) : "" });
    const { coreSettings } = this.#tables;
    await this.db.insert(coreSettings).values({ key: SETTING, value }).onConflictDoUpdate({ target: coreSettings.key, set: { value } });
  }

  /** The configuration without its secret. */
  async view(config?: OidcConfig) {
    config ??= await this.config();
    if (!config) throw OidcErrors.OIDC_NOT_CONFIGURED([]);
    return { ...config, client_secret: config.client_secret ? "[set]" : "" };
  }

  /** Stores a configuration after reading the provider's discovery document (so a typo fails now, not at sign-in). */
  async configure(input: Omit<OidcConfig, "client_secret"> & { client_secret?: string }) {
    const previous = await this.config();
    const config: OidcConfig = { ...input, client_secret: input.client_secret ?? previous?.client_secret ?? "" };
    for (const [role, name] of Object.entries(config.role_map)) if (!(name in RANK)) throw OidcErrors.OIDC_CONFIG_INVALID([`role_map['${role}'] must be viewer, operator or admin`]);
    if (config.enabled) {
      this.#discovery.delete(config.issuer);
      await this.#discover(config).catch((error) => {
        throw isOutboundRefusal(error) ? error : OidcErrors.OIDC_CONFIG_INVALID([(error as Error).message]);
      });
    }
    await this.#write(config);
    return this.view(config);
  }

  /** Where to send the browser: the provider's authorization endpoint with state, nonce and a PKCE challenge. */
  async authorizationUrl(loginHint?: string): Promise<string> {
    const config = await this.#enabled();
    const discovery = await this.#discover(config);
    await this.#sweep();
    const state = b64url(randomBytes(24));
    const nonce = b64url(randomBytes(24));
    const verifier = b64url(randomBytes(32));
    // In the database, so the callback may reach any node of a cluster.
    await this.db.insert(this.#tables.oidcPending).values({ state, nonce, verifier: this.secrets.seal(verifier), createdAt: new Date() });
    const url = new URL(discovery.authorization_endpoint);
    const params = {
      response_type: "code", client_id: config.client_id, redirect_uri: config.redirect_uri, scope: config.scopes.join(" "), state, nonce,
      code_challenge: b64url(createHash("sha256").update(verifier).digest()), code_challenge_method: "S256",
      ...(loginHint ? { login_hint: loginHint } : {}),
    };
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url.toString();
  }

  /** The provider sent the browser back: exchange the code, verify the ID token, find or create the user. */
  async complete(params: { code?: string; state?: string; error?: string; error_description?: string }): Promise<{ user: UserView; claims: JWTPayload }> {
    const config = await this.#enabled();
    const { oidcPending } = this.#tables;
    // One use, whatever happens next: taken out of the table by whichever node gets the callback.
    const [row] = params.state ? await this.db.delete(oidcPending).where(eq(oidcPending.state, params.state)).returning() : [];
    const pending = row ? { nonce: row.nonce, verifier: this.secrets.open(row.verifier), at: row.createdAt.getTime() } : undefined;
    if (params.error) throw OidcErrors.OIDC_LOGIN_REJECTED([`the provider answered ${params.error}${params.error_description ? `: ${params.error_description}` : ""}`]);
    if (!pending || Date.now() - pending.at > PENDING_TTL_MS) throw OidcErrors.OIDC_STATE_INVALID([]);
    if (!params.code) throw OidcErrors.OIDC_LOGIN_REJECTED(["no authorization code"]);
    const discovery = await this.#discover(config);
    const idToken = await this.#exchange(config, discovery, params.code, pending.verifier);
    let claims: JWTPayload;
    try {
      const { jwtVerify } = await import("jose"); // loaded on the first sign-in, not at every start
      ({ payload: claims } = await jwtVerify(idToken, await this.#keys(discovery.jwks_uri), { issuer: discovery.issuer, audience: config.client_id }));
    } catch (error) {
      throw OidcErrors.OIDC_LOGIN_REJECTED([`the ID token did not verify: ${(error as Error).message}`]);
    }
    if (claims.nonce !== pending.nonce) throw OidcErrors.OIDC_LOGIN_REJECTED(["the ID token's nonce does not match"]);
    if (!claims.sub) throw OidcErrors.OIDC_LOGIN_REJECTED(["the ID token has no subject"]);
    return { user: await this.#userFor(config, discovery.issuer, claims), claims };
  }

  async #exchange(config: OidcConfig, discovery: Discovery, code: string, verifier: string): Promise<string> {
    const form = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: config.redirect_uri, code_verifier: verifier });
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
    const methods = discovery.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
    if (methods.includes("client_secret_basic")) {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(config.client_id)}:${encodeURIComponent(config.client_secret)}`).toString("base64")}`;
    } else {
      form.set("client_id", config.client_id);
      form.set("client_secret", config.client_secret);
    }
    let answer: { id_token?: string; error?: string; error_description?: string };
    try {
      const res = await this.outbound.fetch(discovery.token_endpoint, { method: "POST", headers, body: form, signal: AbortSignal.timeout(10_000) });
      answer = (await res.json()) as typeof answer;
      if (!res.ok) throw OidcErrors.OIDC_LOGIN_REJECTED([`the token endpoint answered ${res.status} ${answer.error ?? ""}${answer.error_description ? `: ${answer.error_description}` : ""}`.trim()]);
    } catch (error) {
      if ((error instanceof GantryError && error.code === OidcErrors.OIDC_LOGIN_REJECTED.code) || isOutboundRefusal(error)) throw error;
      throw OidcErrors.OIDC_PROVIDER_UNREACHABLE(["token endpoint", (error as Error).message]);
    }
    if (!answer.id_token) throw OidcErrors.OIDC_LOGIN_REJECTED(["the token endpoint returned no id_token (is 'openid' among the scopes?)"]);
    return answer.id_token;
  }

  async #userFor(config: OidcConfig, issuer: string, claims: JWTPayload): Promise<UserView> {
    // With a role claim configured the provider decides the role at every sign-in (no match: the default).
    const role = config.role_claim ? (roleFrom(config, claims) ?? config.default_role) : undefined;
    const { oidcIdentities } = this.#tables;
    const [link] = await this.db.select().from(oidcIdentities).where(and(eq(oidcIdentities.issuer, issuer), eq(oidcIdentities.subject, claims.sub!)));
    if (link) {
      let user = await this.users.get(link.userId);
      if (user.disabled) throw OidcErrors.OIDC_LOGIN_REJECTED(["this gantry user is disabled"]);
      if (role && role !== user.role) user = await this.users.update(user.id, { role }); // the provider's groups decide
      return user;
    }
    const wanted = String(claims.preferred_username ?? claims.email ?? `oidc-${claims.sub}`).replace(/[^A-Za-z0-9._@-]/g, "_").slice(0, 60);
    let username = wanted;
    const taken = new Set((await this.users.list()).map((u) => u.username));
    for (let i = 2; taken.has(username); i++) username = `${wanted}-${i}`;
    // The password is random and never shown: this user signs in through the provider only.
    const user = await this.users.create(username, b64url(randomBytes(32)), role ?? config.default_role);
    await this.db.insert(oidcIdentities).values({ issuer, subject: claims.sub!, userId: user.id, email: typeof claims.email === "string" ? claims.email : null, createdAt: new Date() });
    return user;
  }

  async #enabled(): Promise<OidcConfig> {
    const config = await this.config();
    if (!config?.enabled) throw OidcErrors.OIDC_NOT_CONFIGURED([]);
    return config;
  }

  async #discover(config: OidcConfig): Promise<Discovery> {
    const cached = this.#discovery.get(config.issuer);
    if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.doc;
    const url = `${config.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    let doc: Discovery;
    try {
      const res = await this.outbound.fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`${url} answered ${res.status}`);
      doc = (await res.json()) as Discovery;
    } catch (error) {
      if (isOutboundRefusal(error)) throw error; // an address outbound.allow does not list: said as such
      throw OidcErrors.OIDC_PROVIDER_UNREACHABLE(["discovery document", (error as Error).message]);
    }
    const missing = (["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"] as const).filter((k) => typeof doc[k] !== "string");
    if (missing.length > 0) throw OidcErrors.OIDC_PROVIDER_UNREACHABLE(["discovery document", `it lacks ${missing.join(", ")}`]);
    if (doc.issuer.replace(/\/$/, "") !== config.issuer.replace(/\/$/, "")) throw OidcErrors.OIDC_PROVIDER_UNREACHABLE(["discovery document", `it names issuer ${doc.issuer}, not ${config.issuer}`]);
    this.#discovery.set(config.issuer, { doc, at: Date.now() });
    return doc;
  }

  async #keys(jwksUri: string) {
    let keys = this.#jwks.get(jwksUri);
    if (!keys) {
      const { createRemoteJWKSet, customFetch } = await import("jose");
      // The key set comes through the outbound guard too (jose asks for redirects not to be followed).
      this.#jwks.set(jwksUri, (keys = createRemoteJWKSet(new URL(jwksUri), { [customFetch]: (url: string, init: RequestInit) => this.outbound.fetch(url, init) })));
    }
    return keys;
  }

  /** Drops expired sign-ins, and the oldest past MAX_PENDING (a flood of started sign-ins stays bounded). */
  async #sweep(): Promise<void> {
    const { oidcPending } = this.#tables;
    await this.db.delete(oidcPending).where(lt(oidcPending.createdAt, new Date(Date.now() - PENDING_TTL_MS)));
    const [beyond] = await this.db.select({ createdAt: oidcPending.createdAt }).from(oidcPending).orderBy(desc(oidcPending.createdAt)).limit(1).offset(MAX_PENDING - 1);
    if (beyond) await this.db.delete(oidcPending).where(lte(oidcPending.createdAt, beyond.createdAt));
  }
}

/** The outbound guard refused the provider's address (422): passed on as it is. */
function isOutboundRefusal(error: unknown): boolean {
  return error instanceof GantryError && error.code === OutboundErrors.OUTBOUND_ADDRESS_REFUSED.code;
}

/** The highest role `role_map` gives the values of `role_claim`; undefined when none matches. */
function roleFrom(config: OidcConfig, claims: JWTPayload): UserRole | undefined {
  if (!config.role_claim) return undefined;
  const raw = claims[config.role_claim];
  const values = Array.isArray(raw) ? raw.map(String) : raw === undefined ? [] : [String(raw)];
  const roles = values.map((v) => config.role_map[v]).filter((r): r is UserRole => r !== undefined);
  return roles.sort((a, b) => RANK[b] - RANK[a])[0];
}
