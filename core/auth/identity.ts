/** Who is calling, and how credentials are read from a request. */
import type { Role } from "./roles.ts";

/** The caller. `role: "public"` means no credential was presented. */
export interface Identity {
  subject: string;
  role: Role | "inference";
  via: "anonymous" | "api_key" | "jwt";
  userId?: string;
  sessionId?: string;
  claims?: Record<string, unknown>;
  /** An API key's inference scope and limits; absent for keys without any (the common case). */
  scope?: KeyScope;
}

/** What an API key may reach on the inference routes and how much: read by the instances plugin per request. */
export interface KeyScope {
  keyId: string;
  /** Model ids (names or aliases) the key may reach; null = every model. */
  models: ReadonlySet<string> | null;
  /** Per minute; 0 = no limit. */
  requestsPerMinute: number;
  tokensPerMinute: number;
}

export const ANONYMOUS: Identity = { subject: "anonymous", role: "public", via: "anonymous" };

/** Reads the credential as llamactl does: `Authorization: Bearer`, `X-API-Key`, or `?api_key=`. */
export function credentialOf(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  // The scheme compared without lower-casing the whole header (a copy of it on every request).
  if (header && header.length >= 7 && (header.startsWith("Bearer ") || header.slice(0, 7).toLowerCase() === "bearer ")) return header.slice(7).trim();
  const apiKey = request.headers.get("x-api-key");
  if (apiKey) return apiKey.trim();
  const query = request.url.indexOf("?");
  if (query === -1) return undefined;
  return new URLSearchParams(request.url.slice(query + 1)).get("api_key") ?? undefined;
}
