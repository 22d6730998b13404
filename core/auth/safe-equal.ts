/** Constant-time comparison of secrets: both sides are hashed first, so lengths never leak either. */
import { createHash, timingSafeEqual } from "node:crypto";

export function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** True when `presented` hashes to `expectedDigest` (a SHA-256), compared in constant time. */
export function safeEqualDigest(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(sha256(presented), expectedDigest);
}
