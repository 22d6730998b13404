/** drizzle-kit config for this plugin's SQLite tables (`npm run db:generate` writes drizzle/sqlite). */
import { defineConfig } from "drizzle-kit";

export default defineConfig({ dialect: "sqlite", schema: "./schema.ts", out: "./drizzle/sqlite" });
