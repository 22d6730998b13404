/** drizzle-kit config for this plugin's PostgreSQL tables (`npm run db:generate` writes drizzle/pg). */
import { defineConfig } from "drizzle-kit";

export default defineConfig({ dialect: "postgresql", schema: "./schema-pg.ts", out: "./drizzle/pg" });
