/** Login sessions: short-lived HS256 access tokens (@elysiajs/jwt) and rotating refresh tokens with reuse detection. */
import { randomBytes, randomUUID } from "node:crypto";
import { safeEqualDigest, sha256 } from "./safe-equal.ts";
import { and, eq, isNull } from "drizzle-orm";
import { Elysia } from "elysia";
import type { GantryDb } from "../storage/db.ts";
import { createError, defineErrors } from "../kernel/errors.ts";
import { coreTables } from "../storage/tables.ts";
import type { UserView } from "./users.ts";

export const SessionErrors = defineErrors("core", {
  REFRESH_TOKEN_INVALID: createError("REFRESH_TOKEN_INVALID", 401, () => "Refresh token is invalid, expired or revoked; log in again"),
  REFRESH_TOKEN_REUSED: createError("REFRESH_TOKEN_REUSED", 401, () => "Refresh token was already used; the whole session is revoked; log in again"),
});

export interface AccessClaims {
  sub: string;
  sid: string;
  username: string;
  iat: number;
  exp: number;
}

export interface IssuedSession {
  access_token: string;
  /** Same as access_token, for clients of llamactl's login. */
  token: string;
  token_type: "Bearer";
  expires_at: string;
  refresh_token: string;
  refresh_expires_at: string;
}

const REFRESH_PATTERN = /^grt_([0-9a-f-]{36})_([A-Za-z0-9_-]{43})$/;
const VERIFIED_CACHE_SIZE = 10_000;

/** The HS256 signer; @elysiajs/jwt (and jose under it, ~75 ms to load) is imported on the first sign-in or token check, not at start. */
async function signerFor(secret: string) {
  const { jwt } = await import("@elysiajs/jwt");
  return new Elysia().use(jwt({ name: "jwt", secret, alg: "HS256" })).decorator.jwt;
}


export class SessionService {
  #signer: ReturnType<typeof signerFor> | undefined;
  readonly #secret: string;
  #revoked = new Set<string>();
  /** Verified tokens, so a hot client does not pay an HMAC per request; bounded, oldest dropped. */
  readonly #verified = new Map<string, AccessClaims>();

  readonly #tables: ReturnType<typeof coreTables>;
  /** Called after a session was revoked here (cluster mode tells the other nodes at once). */
  onRevoked: (familyId: string) => void | Promise<void> = () => {};

  /** Call `reload()` before use: it reads the revoked sessions into memory. */
  constructor(private readonly db: GantryDb, secret: string, private readonly ttl: () => { accessS: number; refreshS: number }) {
    this.#secret = secret;
    this.#tables = coreTables(db);
  }

  #signing(): ReturnType<typeof signerFor> {
    // A failed first load is not kept: the next sign-in tries again.
    return (this.#signer ??= signerFor(this.#secret).catch((error: unknown) => {
      this.#signer = undefined;
      throw error;
    }) as ReturnType<typeof signerFor>);
  }

  async reload(): Promise<void> {
    const { revokedSessions } = this.#tables;
    const rows = await this.db.select({ id: revokedSessions.familyId }).from(revokedSessions);
    this.#revoked = new Set(rows.map((r) => r.id));
    this.#verified.clear();
  }

  /** Starts a session (a new refresh-token family) for a user who just logged in. */
  async start(user: UserView): Promise<IssuedSession> {
    return this.#issue(user.id, user.username, randomUUID());
  }

  /** Exchanges a refresh token for a new pair. Reusing a rotated token revokes the whole session. */
  async refresh(presented: string, usernameOf: (userId: string) => string | undefined): Promise<IssuedSession> {
    const { refreshTokens } = this.#tables;
    const match = REFRESH_PATTERN.exec(presented);
    const [row] = match ? await this.db.select().from(refreshTokens).where(eq(refreshTokens.id, match[1]!)) : [];
    const valid = row !== undefined && safeEqualDigest(presented, Buffer.from(row.hash, "hex"));
    if (!row || !valid) throw SessionErrors.REFRESH_TOKEN_INVALID([]);
    if (row.usedAt !== null) {
      await this.revoke(row.familyId, "refresh token reuse");
      throw SessionErrors.REFRESH_TOKEN_REUSED([]);
    }
    const username = usernameOf(row.userId);
    if (row.revokedAt !== null || row.expiresAt.getTime() <= Date.now() || this.#revoked.has(row.familyId) || !username) {
      throw SessionErrors.REFRESH_TOKEN_INVALID([]);
    }
    const claimed = await this.db.update(refreshTokens).set({ usedAt: new Date() })
      .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.usedAt))).returning({ id: refreshTokens.id });
    if (claimed.length === 0) {
      // A concurrent refresh used it first: that is reuse too.
      await this.revoke(row.familyId, "refresh token reuse");
      throw SessionErrors.REFRESH_TOKEN_REUSED([]);
    }
    return this.#issue(row.userId, username, row.familyId);
  }

  /** Ends a session: its refresh tokens and every access token naming it stop working at once. */
  async revoke(familyId: string, reason: string): Promise<void> {
    const { refreshTokens, revokedSessions } = this.#tables;
    this.#revoked.add(familyId);
    await this.db.transaction(async (tx) => {
      await tx.insert(revokedSessions).values({ familyId, revokedAt: new Date(), reason }).onConflictDoNothing();
      await tx.update(refreshTokens).set({ revokedAt: new Date() }).where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
    });
    this.markRevoked(familyId);
    await this.onRevoked(familyId);
  }

  /** Refuses a session's access tokens from now on (a revocation made here or on another node). */
  markRevoked(familyId: string): void {
    this.#revoked.add(familyId);
    for (const [token, claims] of this.#verified) if (claims.sid === familyId) this.#verified.delete(token);
  }

  /** Ends every session of a user (password reset, disabling). */
  async revokeUser(userId: string, reason: string): Promise<void> {
    const { refreshTokens } = this.#tables;
    const rows = await this.db.selectDistinct({ f: refreshTokens.familyId }).from(refreshTokens).where(eq(refreshTokens.userId, userId));
    for (const { f } of rows) await this.revoke(f, reason);
  }

  /** The claims of a valid, unexpired access token of a live session; undefined otherwise. */
  async verify(token: string): Promise<AccessClaims | undefined> {
    const now = Date.now() / 1000;
    let claims = this.#verified.get(token);
    if (!claims) {
      const payload = await (await this.#signing()).verify(token);
      if (!payload || typeof payload.sub !== "string" || typeof payload.sid !== "string" || typeof payload.exp !== "number") return undefined;
      claims = payload as unknown as AccessClaims;
      if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(token, claims);
    }
    if (claims.exp <= now || this.#revoked.has(claims.sid)) return undefined;
    return claims;
  }

  async #issue(userId: string, username: string, familyId: string): Promise<IssuedSession> {
    const { accessS, refreshS } = this.ttl();
    const now = Math.floor(Date.now() / 1000);
    const exp = now + accessS;
    const accessToken = await (await this.#signing()).sign({ sub: userId, sid: familyId, username, iat: true, exp });
    const id = randomUUID();
    const refreshToken = `grt_${id}_${randomBytes(32).toString("base64url")}`;
    const refreshExpires = new Date(Date.now() + refreshS * 1000);
    await this.db.insert(this.#tables.refreshTokens).values({
      id, familyId, userId, hash: sha256(refreshToken).toString("hex"), createdAt: new Date(), expiresAt: refreshExpires,
    });
    return {
      access_token: accessToken, token: accessToken, token_type: "Bearer",
      expires_at: new Date(exp * 1000).toISOString(),
      refresh_token: refreshToken, refresh_expires_at: refreshExpires.toISOString(),
    };
  }
}
