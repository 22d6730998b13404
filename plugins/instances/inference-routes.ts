/** Every inference API on gantry's port, each group with its own error shape: OpenAI, Anthropic, Ollama, llama-swap's helpers. */
import type { PluginContext } from "gantry/plugin";
import type { KeyLimits } from "./key-limits.ts";
import type { InstanceManager } from "./instance-manager.ts";
import type { NodeForwarding } from "./node-forwarding.ts";
import { InferenceMetrics } from "./inference-metrics.ts";
import { anthropicRoutes } from "./anthropic-routes.ts";
import { ollamaRoutes } from "./ollama-routes.ts";
import { openAiRoutes } from "./openai-routes.ts";
import { inferenceService, Upstream } from "./proxy.ts";
import type { ServedModels } from "./served-models.ts";
import { swapRoutes } from "./swap-routes.ts";

/** Registers the inference routes and returns what other plugins use (the `inference` service). */
export function registerInferenceRoutes(ctx: PluginContext, manager: InstanceManager, served: ServedModels, keyLimits: KeyLimits, forwarding: NodeForwarding) {
  const instances = () => manager.supervisors().map((s) => ({ name: s.definition.name, running: s.status === "running" }));
  const metrics = new InferenceMetrics(ctx, instances, (ctx.config as { log_inference?: boolean }).log_inference !== false);
  const upstream = new Upstream(manager, metrics, served, { identity: ctx.services.consume("core.identity"), limits: keyLimits });
  ctx.routes(openAiRoutes(upstream, forwarding), { prefix: "" });
  ctx.routes(anthropicRoutes(upstream, forwarding), { prefix: "" });
  ctx.routes(ollamaRoutes(upstream, forwarding), { prefix: "" });
  ctx.routes(swapRoutes(upstream), { prefix: "" });
  return { upstream, service: inferenceService(upstream) };
}
