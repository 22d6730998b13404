/**
 * Per-key inference limits: requests and tokens per minute, counted in one-minute windows that
 * start with a key's first request. Kept with the fleet, so a plugin reload does not reset them.
 */
import type { KeyScope } from "gantry/plugin";

interface Window {
  startedAt: number;
  requests: number;
  tokens: number;
}

const MINUTE_MS = 60_000;

/** Why a key was refused and when it may come back. */
export interface KeyRefusal {
  what: "requests" | "tokens";
  limit: number;
  retryAfterS: number;
}

export class KeyLimits {
  readonly #windows = new Map<string, Window>();

  /** Counts one request of `scope`'s key; a refusal when the key is over a limit (the request is not counted). */
  admit(scope: KeyScope, now = Date.now()): KeyRefusal | undefined {
    if (scope.requestsPerMinute <= 0 && scope.tokensPerMinute <= 0) return undefined;
    let window = this.#windows.get(scope.keyId);
    if (!window || now - window.startedAt >= MINUTE_MS) {
      window = { startedAt: now, requests: 0, tokens: 0 };
      this.#windows.set(scope.keyId, window);
    }
    const retryAfterS = Math.max(1, Math.ceil((window.startedAt + MINUTE_MS - now) / 1000));
    if (scope.requestsPerMinute > 0 && window.requests >= scope.requestsPerMinute) return { what: "requests", limit: scope.requestsPerMinute, retryAfterS };
    if (scope.tokensPerMinute > 0 && window.tokens >= scope.tokensPerMinute) return { what: "tokens", limit: scope.tokensPerMinute, retryAfterS };
    window.requests++;
    return undefined;
  }

  /** Adds the tokens a finished request used to its key's window. */
  charge(keyId: string, tokens: number, now = Date.now()): void {
    const window = this.#windows.get(keyId);
    if (window && now - window.startedAt < MINUTE_MS) window.tokens += tokens;
  }
}
