/** API-key authentication: keys are stored as SHA-256 digests and compared in constant time. */
import { randomBytes } from "node:crypto";
import { safeEqualDigest, sha256 } from "./safe-equal.ts";
import { eq } from "drizzle-orm";
import { changesOf, type GantryDb } from "../storage/db.ts";
import { apiKeys } from "../storage/db-schema.ts";
import type { Identity } from "./identity.ts";

export type KeyRole = "viewer" | "operator" | "admin" | "inference";

const KEY_PATTERN = /^gk_([a-z0-9]{10})_([A-Za-z0-9_-]{32,64})$/;

interface KeyRecord {
  id: string;
  digest: Buffer;
  role: KeyRole;
  name: string;
}

export class ApiKeyAuthenticator {
  #keys = new Map<string, KeyRecord>();

  constructor(private readonly db: GantryDb) {
    this.#load();
  }

  /** The identity of an API key; `undefined` when it is not a valid, unrevoked key. */
  identifyKey(presented: string): Identity | undefined {
    const match = KEY_PATTERN.exec(presented);
    const record = match ? this.#keys.get(match[1]!) : undefined;
    // Compare digests even for an unknown id, so timing does not reveal which ids exist.
    const expected = record?.digest ?? DUMMY_DIGEST;
    const ok = safeEqualDigest(presented, expected) && record !== undefined;
    return ok ? { subject: `key:${record.name}`, role: record.role, via: "api_key" } : undefined;
  }

  /** Creates a key and returns its secret; only the digest is stored. */
  create(name: string, role: KeyRole, secret?: string): { id: string; key: string } {
    const id = secret ? KEY_PATTERN.exec(secret)?.[1] : randomId();
    if (!id) throw new RangeError("A given key must look like gk_<10 lowercase letters or digits>_<32-64 url-safe characters>");
    const key = secret ?? `gk_${id}_${randomBytes(24).toString("base64url")}`;
    this.db.insert(apiKeys).values({ id, name, hash: sha256(key).toString("hex"), prefix: `gk_${id}`, role, createdAt: new Date() }).run();
    this.#load();
    return { id, key };
  }

  revoke(id: string): boolean {
    const changed = changesOf(this.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id)).run()) > 0;
    this.#load();
    return changed;
  }

  /** Keys for the admin API: never the secret, never the digest. */
  list() {
    return this.db.select({ id: apiKeys.id, name: apiKeys.name, prefix: apiKeys.prefix, role: apiKeys.role, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt })
      .from(apiKeys).orderBy(apiKeys.createdAt).all()
      .map((k) => ({ id: k.id, name: k.name, prefix: k.prefix, role: k.role, created_at: k.createdAt.toISOString(), revoked_at: k.revokedAt?.toISOString() ?? null }));
  }

  get count(): number {
    return this.db.select({ id: apiKeys.id }).from(apiKeys).all().length;
  }

  /**
   * On first start (no keys at all) creates an admin key and an inference key and returns
   * their secrets for the caller to print once.
   */
  bootstrap(adminSecret: string): { admin: string; inference: string } | undefined {
    if (this.count > 0) return undefined;
    const admin = this.create("bootstrap-admin", "admin", adminSecret || undefined).key;
    const inference = this.create("bootstrap-inference", "inference").key;
    return { admin, inference };
  }

  /** Re-reads keys from the database (they are cached in memory for the hot path). */
  reload(): void {
    this.#load();
  }

  #load(): void {
    const rows = this.db.select().from(apiKeys).all().filter((r) => r.revokedAt === null);
    this.#keys = new Map(rows.map((r) => [r.id, { id: r.id, digest: Buffer.from(r.hash, "hex"), role: r.role, name: r.name }]));
  }
}

const DUMMY_DIGEST = sha256("gantry-no-such-key");


function randomId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join("");
}
