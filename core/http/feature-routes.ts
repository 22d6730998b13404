/** Feature flags: list, read, set (typed), reset. */
import { t } from "elysia";
import type { FlagRegistry } from "../kernel/flags.ts";
import type { Identity } from "../auth/identity.ts";
import type { RolesApp } from "../auth/roles.ts";

const FlagSchema = t.Object({
  name: t.String(), type: t.Union([t.Literal("boolean"), t.Literal("number"), t.Literal("string"), t.Literal("json")]),
  value: t.Unknown(), default: t.Unknown(), description: t.String(), plugin: t.String(), overridden: t.Boolean(),
  updated_at: t.Union([t.String(), t.Null()]),
});
const Name = t.Object({ name: t.String({ maxLength: 200 }) });

export function featureRoutes(flags: FlagRegistry, identify: (request: Request) => Promise<Identity | undefined>) {
  const actor = async (request: Request) => (await identify(request))?.subject ?? null;
  return (app: RolesApp) =>
    app
      .get("/api/v1/features", () => ({ features: flags.list() }), {
        role: "viewer", response: t.Object({ features: t.Array(FlagSchema) }),
        detail: { summary: "Every feature flag with its current value", tags: ["features"] },
      })
      .get("/api/v1/features/:name", ({ params }) => flags.get(params.name), {
        role: "viewer", params: Name, response: FlagSchema, detail: { summary: "One feature flag", tags: ["features"] },
      })
      .put("/api/v1/features/:name", async ({ params, body, request }) => flags.set(params.name, body.value, await actor(request)), {
        role: "admin", params: Name,
        body: t.Object({ value: t.Unknown({ description: "must match the flag's type (boolean, number, string, or any JSON for json)" }) }),
        response: FlagSchema,
        detail: { summary: "Set a flag's runtime value (typed); plugins see it on their next read; publishes feature_flag_changed", tags: ["features"] },
      })
      .delete("/api/v1/features/:name", async ({ params, request }) => flags.reset(params.name, await actor(request)), {
        role: "admin", params: Name, response: FlagSchema, detail: { summary: "Reset a flag to its declared default", tags: ["features"] },
      });
}
