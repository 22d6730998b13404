/** Small TypeBox helpers shared by core's and plugins' route schemas. */
import { t, type TSchema } from "elysia";

/** `schema` or null. */
export const Nullable = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);

/** The largest whole number a query parameter takes: it fits a 32-bit integer column and any OFFSET on every database. */
export const MAX_QUERY_INTEGER = 2_147_483_647;

interface QueryIntegerOptions {
  minimum?: number;
  maximum?: number;
  description?: string;
}

/**
 * A whole-number query parameter (`?n=12`) within `minimum`..`maximum` (never above MAX_QUERY_INTEGER):
 * a huge, negative, fractional or non-numeric value is a 400 at validation, never a value the database refuses.
 */
export function QueryInteger(options: QueryIntegerOptions = {}) {
  const maximum = Math.min(options.maximum ?? MAX_QUERY_INTEGER, MAX_QUERY_INTEGER);
  return t.Numeric({ multipleOf: 1, minimum: options.minimum ?? 0, maximum, ...(options.description ? { description: options.description } : {}) });
}

/** An optional `limit` query parameter: 1..`maximum` (a page size). */
export const QueryLimit = (maximum: number, description?: string) => t.Optional(QueryInteger({ minimum: 1, maximum, description }));

/** An optional `offset` query parameter: 0 or more rows to skip. */
export const QueryOffset = (description?: string) => t.Optional(QueryInteger({ minimum: 0, description }));

/** An optional paging cursor such as `before_id` or `after`: a row id or position from `minimum` up. */
export const QueryCursor = (minimum: number, description?: string) => t.Optional(QueryInteger({ minimum, description }));
