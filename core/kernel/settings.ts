/** Values core generates once and keeps in the database (signing secrets, the internal key). */
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import type { GantryDb } from "../storage/db.ts";
import { coreTables } from "../storage/tables.ts";

/** The configured value when set; else the stored one; else a new one (random unless `generate` says), stored. Returns whether it was created now. */
export async function settingOrGenerate(db: GantryDb, key: string, configured: string, generate = () => randomBytes(32).toString("base64url")): Promise<{ value: string; created: boolean }> {
  if (configured) return { value: configured, created: false };
  const { coreSettings } = coreTables(db);
  const [stored] = await db.select().from(coreSettings).where(eq(coreSettings.key, key));
  if (stored) return { value: stored.value, created: false };
  const value = generate();
  // Two nodes starting at once on one PostgreSQL: the first value stored wins.
  const [inserted] = await db.insert(coreSettings).values({ key, value }).onConflictDoNothing().returning();
  if (!inserted) return settingOrGenerate(db, key, configured, generate);
  return { value, created: true };
}
