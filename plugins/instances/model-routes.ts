/** /api/v1/models: declared models (reconcile, export as TOML). */
import { t, textResponses, type RolesApp } from "gantry/plugin";
import { exportToml } from "./declared-models.ts";
import type { InstanceManager } from "./instance-manager.ts";
import type { ModelReconciler } from "./model-reconciler.ts";

const Names = t.Array(t.String());
export const ReconcileResultSchema = t.Object({
  created: Names, updated: Names, removed: Names, unchanged: Names,
  differs: t.Record(t.String(), Names, { description: "running instances → the declared fields they lack (applied when they stop); `removed`: the table is gone" }),
  invalid: t.Record(t.String(), Names, { description: "tables that could not be applied → why" }),
});

export interface ModelRouteParts {
  manager: InstanceManager;
  reconciler: ModelReconciler;
}

export function modelRoutes(p: ModelRouteParts) {
  return (app: RolesApp) =>
    app
      .post("/reconcile", () => p.reconciler.reconcile(), {
        role: "admin", response: ReconcileResultSchema,
        detail: { summary: "Re-read [models.<name>] from the running configuration and bring the instances in step (a config reload does this too)" },
      })
      .get("/export", ({ set }) => {
        set.headers["content-type"] = "application/toml; charset=utf-8";
        return exportToml(p.manager.list());
      }, { role: "viewer", detail: { summary: "Every instance as a [models.<name>] table (TOML) for gantry.toml; env values are left out", responses: textResponses("TOML") } });
}
