/** OpenAPI fragments of the inference routes: they read raw bodies, so there is no TypeBox body to derive these from. */

/** A JSON request body naming `model`, with the fields each API requires. */
export const rawJsonBody = (required: string[]) => ({
  required: true,
  content: { "application/json": { schema: { type: "object" as const, required, properties: { model: { type: "string" as const, description: "An instance's name or alias" } }, additionalProperties: true } } },
});

const SCHEMAS = {
  "application/json": { type: "object" as const },
  "text/event-stream": { type: "string" as const },
  "application/x-ndjson": { type: "string" as const },
};

/** The answer in the given media types, and the errors every inference route has, in `errorShape`. */
export function inferenceResponses(answer: string, mediaTypes: (keyof typeof SCHEMAS)[], errorShape: string) {
  return {
    200: { description: answer, content: Object.fromEntries(mediaTypes.map((type) => [type, { schema: SCHEMAS[type] }])) },
    400: { description: `${errorShape}: body not a JSON object, or no model` },
    401: { description: `${errorShape}: no key, or one that is not valid` },
    404: { description: `${errorShape}: no instance answers to this model id` },
    503: { description: `${errorShape}: the instance is stopped and not started on demand, or did not start` },
  };
}
