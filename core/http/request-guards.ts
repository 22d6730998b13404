/** Per-request guards around every route: rate limits (X-RateLimit-* headers, 429) and the audit trail. */
import { createError, defineErrors } from "../kernel/errors.ts";
import type { AuditContext, RequestGuards } from "./http-app.ts";
import type { AuditLog } from "../auth/audit.ts";
import type { Identity } from "../auth/identity.ts";
import type { RateClass, RateLimiter } from "./rate-limit.ts";

export const GuardErrors = defineErrors("core", {
  RATE_LIMITED: createError("RATE_LIMITED", 429, (limit: number, rateClass: string, retryAfterS: number) =>
    `Rate limit of ${limit} ${rateClass} requests per minute exceeded; retry in ${retryAfterS} s`),
});

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const AUDITED_ROLES = new Set(["operator", "admin", "internal"]);

export interface GuardOptions {
  limiter: RateLimiter;
  audit: AuditLog;
  enabled(): boolean;
  exemptPaths(): Set<string>;
}

export function createRequestGuards(options: GuardOptions): RequestGuards {
  async function limit(request: Request, rateClass: RateClass, ip: () => string, identify: (r: Request) => Promise<Identity | undefined>, set: { headers: Record<string, unknown> }): Promise<void> {
    // Login is limited per address; everything else per credential, or per address when anonymous.
    const identity = rateClass === "login" ? undefined : await identify(request);
    const key = identity && identity.role !== "public" ? identity.subject : `ip:${ip()}`;
    const decision = options.limiter.hit(key, rateClass);
    set.headers["x-ratelimit-limit"] = String(decision.limit);
    set.headers["x-ratelimit-remaining"] = String(decision.remaining);
    set.headers["x-ratelimit-reset"] = String(decision.resetAt);
    if (!decision.allowed) {
      set.headers["retry-after"] = String(decision.retryAfterS);
      throw GuardErrors.RATE_LIMITED([decision.limit, rateClass, decision.retryAfterS], { details: { retry_after_s: decision.retryAfterS, reset_at: decision.resetAt } });
    }
  }

  return {
    rateLimited: options.enabled,
    audited: (role) => AUDITED_ROLES.has(role),
    rateLimit(request, path, rateClass: RateClass, ip, identify, set) {
      // No promise at all for a request that is not limited.
      if (!options.enabled() || options.exemptPaths().has(path)) return undefined;
      return limit(request, rateClass, ip, identify, set);
    },
    async audit(context: AuditContext, identify: (r: Request) => Promise<Identity | undefined>) {
      if (READ_METHODS.has(context.request.method) || !AUDITED_ROLES.has(context.role)) return;
      const identity = await identify(context.request);
      const target = Object.keys(context.params ?? {}).length > 0 ? JSON.stringify(context.params) : null;
      await options.audit.record({
        actor: identity?.subject ?? "invalid-credential",
        role: identity?.role ?? "none",
        action: `${context.request.method} ${context.route}`,
        route: context.route,
        target,
        status: context.status,
        requestId: context.requestId,
        ip: context.ip(),
      });
    },
  };
}
