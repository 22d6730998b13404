/**
 * Secrets at rest: values gantry must read back (the OIDC client secret, model servers' env values)
 * are sealed with AES-256-GCM before they reach the database, so a copy of gantry.db or a backup
 * alone does not reveal them. The key comes from `auth.secret_key` (GANTRY_AUTH__SECRET_KEY), else
 * from `<data_dir>/secret.key` (created 0600 on first start, kept out of the database on purpose).
 * Rotation: set the new key and list the old one in `auth.previous_secret_keys`; values sealed with
 * a previous key still open, and are sealed again with the current key at start.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Errors } from "../kernel/errors.ts";
import { narrowExisting } from "../storage/private-files.ts";

const PREFIX = "enc:v1:";

interface Key {
  id: string;
  bytes: Buffer;
}

/** Any text becomes a 32-byte key; the id (8 hex characters of its hash) tells which key sealed a value. */
function keyOf(text: string): Key {
  const bytes = createHash("sha256").update(text).digest();
  return { id: createHash("sha256").update(bytes).digest("hex").slice(0, 8), bytes };
}

export class SecretBox {
  readonly #current: Key;
  readonly #byId: Map<string, Key>;

  constructor(current: string, previous: string[] = []) {
    this.#current = keyOf(current);
    this.#byId = new Map([this.#current, ...previous.map(keyOf)].map((k) => [k.id, k]));
  }

  /** The key from config, else the data dir's key file (created on first use). */
  static fromConfig(dataDir: string, configured: string, previous: string[]): SecretBox {
    if (configured) return new SecretBox(configured, previous);
    const file = join(dataDir, "secret.key");
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("base64url") + "\n", { mode: 0o600 });
    narrowExisting(file); // also one an older gantry or a copy left wider
    return new SecretBox(readFileSync(file, "utf8").trim(), previous);
  }

  /** The current key's id (8 hex characters of its hash; not the key). */
  get keyId(): string {
    return this.#current.id;
  }

  /** `enc:v1:<key id>:<iv>:<tag>:<ciphertext>` (base64url parts). */
  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#current.bytes, iv);
    const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return `${PREFIX}${this.#current.id}:${iv.toString("base64url")}:${cipher.getAuthTag().toString("base64url")}:${data.toString("base64url")}`;
  }

  /** The plain value; values stored before sealing existed are returned as they are. */
  open(stored: string): string {
    if (!stored.startsWith(PREFIX)) return stored;
    const [keyId, iv, tag, data] = stored.slice(PREFIX.length).split(":");
    const key = this.#byId.get(keyId!);
    if (!key) throw Errors.SECRET_KEY_UNKNOWN([keyId!]);
    const decipher = createDecipheriv("aes-256-gcm", key.bytes, Buffer.from(iv!, "base64url"));
    decipher.setAuthTag(Buffer.from(tag!, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(data!, "base64url")), decipher.final()]).toString("utf8");
  }

  /** Whether `stored` should be written again: plain, or sealed with a previous key. */
  needsReseal(stored: string): boolean {
    return !stored.startsWith(`${PREFIX}${this.#current.id}:`);
  }

  /** Every value of a map sealed (for name → secret maps such as an instance's env). */
  sealMap(values: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, this.seal(v)]));
  }

  openMap(values: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, this.open(v)]));
  }
}
