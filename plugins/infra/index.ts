/** infra: the operational APIs of seeds 000 (under /api/v1/infra) and 003 (at their root paths). */
import { definePlugin } from "gantry/plugin";
import type { CoreCacheService, CoreConfigService, CoreInfoService, CoreLoggersService, CoreMetricsService, CoreProcessesService, CoreTasksService } from "gantry/plugin";
import { commonRoutes } from "./common-routes.ts";
import { infraRoutes } from "./infra-routes.ts";

export default definePlugin({
  name: "infra",
  setup(ctx) {
    const services = {
      config: ctx.services.consume<CoreConfigService>("core.config"),
      info: ctx.services.consume<CoreInfoService>("core.info"),
      cache: ctx.services.consume<CoreCacheService>("core.cache"),
      loggers: ctx.services.consume<CoreLoggersService>("core.loggers"),
      tasks: ctx.services.consume<CoreTasksService>("core.tasks"),
      metrics: ctx.services.consume<CoreMetricsService>("core.metrics"),
      processes: ctx.services.consume<CoreProcessesService>("core.processes"),
    };
    ctx.routes(infraRoutes(services));
    ctx.routes(commonRoutes(services), { prefix: "" });
  },
});
