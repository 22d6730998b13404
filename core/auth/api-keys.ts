/** API-key authentication: keys are stored as SHA-256 digests and compared in constant time. */
import { runtime } from "../runtime/index.ts";
import { randomBytes } from "node:crypto";
import { safeEqualDigest, sha256 } from "./safe-equal.ts";
import { and, count, eq, isNull } from "drizzle-orm";
import type { GantryDb } from "../storage/db.ts";
import { coreTables } from "../storage/tables.ts";
import type { Identity, KeyScope } from "./identity.ts";

export type KeyRole = "viewer" | "operator" | "admin" | "inference";

const KEY_PATTERN = /^gk_([a-z0-9]{10})_([A-Za-z0-9_-]{32,64})$/;

interface KeyRecord {
  id: string;
  digest: Buffer;
  role: KeyRole;
  name: string;
  /** ms since the epoch; Infinity = never. */
  expiresAt: number;
  scope: KeyScope | undefined;
}

/** An inference scope and limits given when a key is created or changed. */
export interface KeyLimits {
  models?: string[] | null;
  expires_at?: Date | null;
  requests_per_minute?: number;
  tokens_per_minute?: number;
}

/** Verified keys remembered at most; past this the memory starts over (a flood of distinct valid keys is not a real load). */
const VERIFIED_MAX = 4096;

export class ApiKeyAuthenticator {
  #keys = new Map<string, KeyRecord>();
  #scoped = false;
  /**
   * Keys already verified, by a seeded 64-bit hash of the presented secret: SHA-256 and a constant-time
   * compare per request cost more than the rest of authentication. The seed is random per process, so
   * no one can compute a colliding key; an entry counts only while its record is still the loaded one.
   */
  #verified = new Map<bigint, { record: KeyRecord; identity: Identity }>();
  readonly #seed = randomBytes(8).readBigUInt64LE();
  #reloading: Promise<void> = Promise.resolve();
  readonly #table: ReturnType<typeof coreTables>["apiKeys"];
  /** Called after a key was created or revoked here (cluster mode tells the other nodes to reload). */
  onChanged: () => void = () => {};

  /** Call `reload()` before use: it reads the keys into memory, where every request finds them. */
  constructor(private readonly db: GantryDb) {
    this.#table = coreTables(db).apiKeys;
  }

  /** The identity of an API key; `undefined` when it is not a valid, unrevoked key. */
  identifyKey(presented: string): Identity | undefined {
    const hash = runtime.keyedHash(presented, this.#seed);
    const known = this.#verified.get(hash);
    // Revoking reloads #keys, so a revoked key's record is no longer the one here and it is refused at once.
    if (known && this.#keys.get(known.record.id) === known.record) return known.record.expiresAt > Date.now() ? known.identity : undefined;
    const match = KEY_PATTERN.exec(presented);
    const record = match ? this.#keys.get(match[1]!) : undefined;
    // Compare digests even for an unknown id, so timing does not reveal which ids exist.
    const expected = record?.digest ?? DUMMY_DIGEST;
    if (!safeEqualDigest(presented, expected) || record === undefined || record.expiresAt <= Date.now()) return undefined;
    const identity: Identity = Object.freeze({ subject: `key:${record.name}`, role: record.role, via: "api_key", ...(record.scope ? { scope: record.scope } : {}) });
    if (this.#verified.size >= VERIFIED_MAX) this.#verified.clear();
    this.#verified.set(hash, { record, identity });
    return identity;
  }

  /** True while some key carries an inference scope or limits: the inference routes look only then. */
  get scoped(): boolean {
    return this.#scoped;
  }

  /** Creates a key and returns its secret; only the digest is stored. */
  async create(name: string, role: KeyRole, secret?: string, limits: KeyLimits = {}): Promise<{ id: string; key: string }> {
    const id = secret ? KEY_PATTERN.exec(secret)?.[1] : randomId();
    if (!id) throw new RangeError("A given key must look like gk_<10 lowercase letters or digits>_<32-64 url-safe characters>");
    const key = secret ?? `gk_${id}_${randomBytes(24).toString("base64url")}`;
    await this.db.insert(this.#table).values({ id, name, hash: sha256(key).toString("hex"), prefix: `gk_${id}`, role, createdAt: new Date(), ...limitColumns(limits) });
    await this.reload();
    this.onChanged();
    return { id, key };
  }

  /** Changes a key's scope, expiry or limits; applies to the next request (the verified-key memory is dropped). */
  async setLimits(id: string, limits: KeyLimits): Promise<boolean> {
    const apiKeys = this.#table;
    const columns = limitColumns(limits);
    if (Object.keys(columns).length === 0) {
      const [row] = await this.db.select({ id: apiKeys.id }).from(apiKeys).where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)));
      return row !== undefined;
    }
    const changed = await this.db.update(apiKeys).set(columns).where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))).returning({ id: apiKeys.id });
    await this.reload();
    this.onChanged(); // a narrowed scope or an expiry must reach every node of a fleet at once, as a revoke does
    return changed.length > 0;
  }

  /** Revokes a key; it stops working at once (the in-memory copy is dropped before this returns). */
  async revoke(id: string): Promise<boolean> {
    const apiKeys = this.#table;
    const changed = await this.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id)).returning({ id: apiKeys.id });
    this.#keys.delete(id);
    this.#verified.clear();
    await this.reload();
    this.onChanged();
    return changed.length > 0;
  }

  /** Keys for the admin API: never the secret, never the digest. */
  async list() {
    const apiKeys = this.#table;
    const rows = await this.db.select({
      id: apiKeys.id, name: apiKeys.name, prefix: apiKeys.prefix, role: apiKeys.role, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt,
      models: apiKeys.models, expiresAt: apiKeys.expiresAt, requestsPerMinute: apiKeys.requestsPerMinute, tokensPerMinute: apiKeys.tokensPerMinute,
    }).from(apiKeys).orderBy(apiKeys.createdAt);
    return rows.map((k) => ({
      id: k.id, name: k.name, prefix: k.prefix, role: k.role, created_at: k.createdAt.toISOString(), revoked_at: k.revokedAt?.toISOString() ?? null,
      models: k.models ?? null, expires_at: k.expiresAt?.toISOString() ?? null, requests_per_minute: k.requestsPerMinute, tokens_per_minute: k.tokensPerMinute,
    }));
  }

  async count(): Promise<number> {
    const [row] = await this.db.select({ n: count() }).from(this.#table);
    return row?.n ?? 0;
  }

  /**
   * On first start (no keys at all) creates an admin key and an inference key and returns
   * their secrets for the caller to print once.
   */
  async bootstrap(adminSecret: string): Promise<{ admin: string; inference: string } | undefined> {
    if ((await this.count()) > 0) return undefined;
    const admin = (await this.create("bootstrap-admin", "admin", adminSecret || undefined)).key;
    const inference = (await this.create("bootstrap-inference", "inference")).key;
    return { admin, inference };
  }

  /** Re-reads keys from the database (they are cached in memory for the hot path). */
  reload(): Promise<void> {
    // One after another: a read that started before a revoke cannot land after it and put the key back.
    const next = this.#reloading.then(async () => {
      const rows = await this.db.select().from(this.#table).where(isNull(this.#table.revokedAt));
      this.#keys = new Map(rows.map((r) => [r.id, recordOf(r)]));
      this.#scoped = [...this.#keys.values()].some((k) => k.scope !== undefined);
      this.#verified.clear();
    });
    this.#reloading = next.catch(() => undefined);
    return next;
  }
}

const DUMMY_DIGEST = sha256("gantry-no-such-key");

type KeyRow = ReturnType<typeof coreTables>["apiKeys"]["$inferSelect"];

function recordOf(r: KeyRow): KeyRecord {
  const limited = r.models !== null || r.requestsPerMinute > 0 || r.tokensPerMinute > 0;
  const scope = limited ? Object.freeze({ keyId: r.id, models: r.models ? new Set(r.models) : null, requestsPerMinute: r.requestsPerMinute, tokensPerMinute: r.tokensPerMinute }) : undefined;
  return { id: r.id, digest: Buffer.from(r.hash, "hex"), role: r.role, name: r.name, expiresAt: r.expiresAt?.getTime() ?? Infinity, scope };
}

/** The columns `limits` sets (fields left out stay as they are). */
function limitColumns(limits: KeyLimits) {
  return {
    ...(limits.models !== undefined ? { models: limits.models } : {}),
    ...(limits.expires_at !== undefined ? { expiresAt: limits.expires_at } : {}),
    ...(limits.requests_per_minute !== undefined ? { requestsPerMinute: limits.requests_per_minute } : {}),
    ...(limits.tokens_per_minute !== undefined ? { tokensPerMinute: limits.tokens_per_minute } : {}),
  };
}


function randomId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join("");
}
