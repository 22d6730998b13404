/** drizzle-kit config for core's SQLite tables: `npm run db:generate` writes drizzle/sqlite. */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./core/storage/db-schema.ts",
  out: "./drizzle/sqlite",
});
