/** Small TypeBox helpers shared by core's and plugins' route schemas. */
import { t, type TSchema } from "elysia";

/** `schema` or null. */
export const Nullable = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);
