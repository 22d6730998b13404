/** Users who log in with a password: argon2id hashes (PHC strings, through the runtime seam), roles, disabling. */
import { runtime } from "../runtime/index.ts";
import { randomBytes, randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import type { GantryDb } from "../storage/db.ts";
import { createError, defineErrors } from "../kernel/errors.ts";
import { users } from "../storage/db-schema.ts";
import { coreTables } from "../storage/tables.ts";

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
  #reloading: Promise<void> = Promise.resolve();
  /** Verified against when the user does not exist, so both failures take the same time. */
  #dummyHash: Promise<string>;
  readonly #table: typeof users;
  /** Called after a user was created or changed here (cluster mode tells the other nodes to reload). */
  onChanged: () => void = () => {};

  /** Call `reload()` before use: it reads roles and states into memory. */
  constructor(private readonly db: GantryDb) {
    this.#table = coreTables(db).users;
    this.#dummyHash = runtime.hashPassword(randomBytes(16).toString("hex"));
  }

  reload(): Promise<void> {
    // One after another: a read that started before a role change or disabling cannot land after it and undo it.
    const next = this.#reloading.then(async () => {
      const rows = await this.db.select().from(this.#table);
      this.#cache = new Map(rows.map((r) => [r.id, { role: r.role, disabled: r.disabled, username: r.username }]));
    });
    this.#reloading = next.catch(() => undefined);
    return next;
  }

  get count(): number {
    return this.#cache.size;
  }

  /** Current role and state of a user id (from memory). */
  lookup(id: string): { role: UserRole; disabled: boolean; username: string } | undefined {
    return this.#cache.get(id);
  }

  async create(username: string, password: string, role: UserRole): Promise<UserView> {
    const users = this.#table;
    const [taken] = await this.db.select({ id: users.id }).from(users).where(eq(users.username, username));
    if (taken) throw UserErrors.USER_EXISTS([username]);
    const now = new Date();
    const row: Row = {
      id: randomUUID(), username, role, disabled: false, createdAt: now, updatedAt: now,
      passwordHash: await runtime.hashPassword(password),
    };
    // The unique username still decides a race between two creates.
    const [inserted] = await this.db.insert(users).values(row).onConflictDoNothing().returning({ id: users.id });
    if (!inserted) throw UserErrors.USER_EXISTS([username]);
    await this.reload();
    this.onChanged();
    return view(row);
  }

  async list(): Promise<UserView[]> {
    return (await this.db.select().from(this.#table).orderBy(this.#table.username)).map(view);
  }

  async get(id: string): Promise<UserView> {
    const [row] = await this.db.select().from(this.#table).where(eq(this.#table.id, id));
    if (!row) throw UserErrors.USER_NOT_FOUND([id]);
    return view(row);
  }

  async update(id: string, change: { role?: UserRole; disabled?: boolean }): Promise<UserView> {
    await this.get(id);
    await this.db.update(this.#table).set({ ...change, updatedAt: new Date() }).where(eq(this.#table.id, id));
    await this.reload();
    this.onChanged();
    return this.get(id);
  }

  async setPassword(id: string, password: string): Promise<void> {
    await this.get(id);
    const passwordHash = await runtime.hashPassword(password);
    await this.db.update(this.#table).set({ passwordHash, updatedAt: new Date() }).where(eq(this.#table.id, id));
  }

  /** True when a user of that name exists (the audit log names only real users). */
  async exists(username: string): Promise<boolean> {
    const [row] = await this.db.select({ id: this.#table.id }).from(this.#table).where(eq(this.#table.username, username));
    return row !== undefined;
  }

  /** The user for a correct username and password; the same error, after the same work, otherwise. */
  async verify(username: string, password: string): Promise<UserView> {
    const [row] = await this.db.select().from(this.#table).where(eq(this.#table.username, username));
    const ok = await runtime.verifyPassword(password, row?.passwordHash ?? (await this.#dummyHash));
    if (!row || !ok || row.disabled) throw UserErrors.INVALID_CREDENTIALS([]);
    return view(row);
  }
}
