/** infra: the infra API (under /api/v1/infra) and the operations API (at its documented root paths). */
import { definePlugin } from "gantry/plugin";
import { commonRoutes } from "./common-routes.ts";
import { infraRoutes } from "./infra-routes.ts";

export default definePlugin({
  name: "infra",
  setup(ctx) {
    const services = {
      config: ctx.services.consume("core.config"),
      info: ctx.services.consume("core.info"),
      cache: ctx.services.consume("core.cache"),
      loggers: ctx.services.consume("core.loggers"),
      tasks: ctx.services.consume("core.tasks"),
      metrics: ctx.services.consume("core.metrics"),
      processes: ctx.services.consume("core.processes"),
    };
    ctx.routes(infraRoutes(services));
    ctx.routes(commonRoutes(services), { prefix: "" });
  },
});
