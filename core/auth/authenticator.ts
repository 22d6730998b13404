/** Resolves a request to an identity: API key (gk_...) or a user's access token (JWT). */
import { safeEqualDigest, sha256 } from "./safe-equal.ts";
import type { ApiKeyAuthenticator } from "./api-keys.ts";
import { ANONYMOUS, credentialOf, type Identity } from "./identity.ts";
import type { SessionService } from "./sessions.ts";
import type { UserStore } from "./users.ts";

export class Authenticator {
  readonly #internalDigest: Buffer;

  constructor(
    private readonly keys: ApiKeyAuthenticator,
    private readonly sessions: SessionService,
    private readonly users: UserStore,
    internalKey: string,
  ) {
    this.#internalDigest = sha256(internalKey);
  }

  /** The caller; ANONYMOUS without a credential; `undefined` for a credential that is not valid. */
  async identify(request: Request): Promise<Identity | undefined> {
    const presented = credentialOf(request);
    if (presented === undefined) return ANONYMOUS;
    if (presented.startsWith("gk_")) return this.keys.identifyKey(presented);
    const claims = await this.sessions.verify(presented);
    if (!claims) return undefined;
    // Role and state come from the user record, so a role change or disabling applies at once.
    const user = this.users.lookup(claims.sub);
    if (!user || user.disabled) return undefined;
    return { subject: `user:${user.username}`, role: user.role, via: "jwt", userId: claims.sub, sessionId: claims.sid, claims: { ...claims } };
  }

  /** True when the request carries the internal service key in X-Internal-Auth (constant-time). */
  isInternal(request: Request): boolean {
    const presented = request.headers.get("x-internal-auth");
    if (!presented) return false;
    return safeEqualDigest(presented, this.#internalDigest);
  }
}
