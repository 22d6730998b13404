/** Values core generates once and keeps in the database (signing secrets, the internal key). */
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import type { GantryDb } from "../storage/db.ts";
import { coreSettings } from "../storage/db-schema.ts";

/** The configured value when set; else the stored one; else a new random one, stored. Returns whether it was created now. */
export function settingOrGenerate(db: GantryDb, key: string, configured: string): { value: string; created: boolean } {
  if (configured) return { value: configured, created: false };
  const stored = db.select().from(coreSettings).where(eq(coreSettings.key, key)).get();
  if (stored) return { value: stored.value, created: false };
  const value = randomBytes(32).toString("base64url");
  db.insert(coreSettings).values({ key, value }).run();
  return { value, created: true };
}
