/** argon2id in WebAssembly (hash-wasm) with Bun.password's parameters, so hashes verify on Bun and Deno alike. */
import { argon2id, argon2Verify } from "hash-wasm";
import { randomBytes } from "node:crypto";

/** Bun.password's argon2id defaults: 64 MiB, 2 passes, 1 lane, 32-byte hash. */
const PARAMETERS = { memorySize: 65_536, iterations: 2, parallelism: 1, hashLength: 32 } as const;

/** A PHC string `$argon2id$v=19$m=65536,t=2,p=1$salt$hash`. */
export function hashArgon2id(password: string): Promise<string> {
  return argon2id({ ...PARAMETERS, password, salt: randomBytes(16), outputType: "encoded" });
}

/** Verifies `password` against any argon2 PHC string (parameters read from it). */
export async function verifyArgon2(password: string, hash: string): Promise<boolean> {
  try {
    return await argon2Verify({ password, hash });
  } catch {
    return false; // not an argon2 PHC string
  }
}
