/** Users who log in with a password: argon2id hashes (Bun.password), roles, disabling. */
import { randomBytes, randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import type { GantryDb } from "../storage/db.ts";
import { createError, defineErrors } from "../kernel/errors.ts";
import { users } from "../storage/db-schema.ts";

export type UserRole = "viewer" | "operator" | "admin";

export interface UserView {
  id: string;
  username: string;
  role: UserRole;
  disabled: boolean;
  created_at: string;
  updated_at: string;
}

export const UserErrors = defineErrors("core", {
  USER_EXISTS: createError("USER_EXISTS", 409, (username: string) => `A user named '${username}' already exists`),
  USER_NOT_FOUND: createError("USER_NOT_FOUND", 404, (id: string) => `No user with id '${id}'`),
  INVALID_CREDENTIALS: createError("INVALID_CREDENTIALS", 401, () => "Invalid username or password"),
});

type Row = typeof users.$inferSelect;

function view(row: Row): UserView {
  return {
    id: row.id, username: row.username, role: row.role, disabled: row.disabled,
    created_at: row.createdAt.toISOString(), updated_at: row.updatedAt.toISOString(),
  };
}

/** Users, with an in-memory view of role and disabled state so every request need not read the DB. */
export class UserStore {
  #cache = new Map<string, { role: UserRole; disabled: boolean; username: string }>();
  /** Verified against when the user does not exist, so both failures take the same time. */
  #dummyHash: Promise<string>;

  constructor(private readonly db: GantryDb) {
    this.reload();
    this.#dummyHash = Bun.password.hash(randomBytes(16).toString("hex"), { algorithm: "argon2id" });
  }

  reload(): void {
    this.#cache = new Map(this.db.select().from(users).all().map((r) => [r.id, { role: r.role, disabled: r.disabled, username: r.username }]));
  }

  get count(): number {
    return this.#cache.size;
  }

  /** Current role and state of a user id (from memory). */
  lookup(id: string): { role: UserRole; disabled: boolean; username: string } | undefined {
    return this.#cache.get(id);
  }

  async create(username: string, password: string, role: UserRole): Promise<UserView> {
    if (this.db.select({ id: users.id }).from(users).where(eq(users.username, username)).get()) throw UserErrors.USER_EXISTS([username]);
    const now = new Date();
    const row: Row = {
      id: randomUUID(), username, role, disabled: false, createdAt: now, updatedAt: now,
      passwordHash: await Bun.password.hash(password, { algorithm: "argon2id" }),
    };
    this.db.insert(users).values(row).run();
    this.reload();
    return view(row);
  }

  list(): UserView[] {
    return this.db.select().from(users).orderBy(users.username).all().map(view);
  }

  get(id: string): UserView {
    const row = this.db.select().from(users).where(eq(users.id, id)).get();
    if (!row) throw UserErrors.USER_NOT_FOUND([id]);
    return view(row);
  }

  update(id: string, change: { role?: UserRole; disabled?: boolean }): UserView {
    this.get(id);
    this.db.update(users).set({ ...change, updatedAt: new Date() }).where(eq(users.id, id)).run();
    this.reload();
    return this.get(id);
  }

  async setPassword(id: string, password: string): Promise<void> {
    this.get(id);
    const passwordHash = await Bun.password.hash(password, { algorithm: "argon2id" });
    this.db.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, id)).run();
  }

  /** True when a user of that name exists (the audit log names only real users). */
  exists(username: string): boolean {
    return this.db.select({ id: users.id }).from(users).where(eq(users.username, username)).get() !== undefined;
  }

  /** The user for a correct username and password; the same error, after the same work, otherwise. */
  async verify(username: string, password: string): Promise<UserView> {
    const row = this.db.select().from(users).where(eq(users.username, username)).get();
    const ok = await Bun.password.verify(password, row?.passwordHash ?? (await this.#dummyHash));
    if (!row || !ok || row.disabled) throw UserErrors.INVALID_CREDENTIALS([]);
    return view(row);
  }
}
