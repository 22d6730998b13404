/** drizzle-kit config for core's PostgreSQL tables: `npm run db:generate` writes drizzle/pg. */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./core/storage/db-schema-pg.ts",
  out: "./drizzle/pg",
});
