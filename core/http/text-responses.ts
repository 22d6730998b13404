/** OpenAPI `responses` for routes that answer text/plain: TypeBox response schemas describe JSON only. */
export function textResponses(description: string, errors: Record<number, string> = {}) {
  const text = (what: string) => ({ description: what, content: { "text/plain": { schema: { type: "string" as const } } } });
  return { 200: text(description), ...Object.fromEntries(Object.entries(errors).map(([status, what]) => [status, text(what)])) };
}
