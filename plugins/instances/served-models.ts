/**
 * Served model names that another plugin routes (deployments): per request, the instance a name
 * reaches (a switch is one map write, so requests in flight finish where they went and the next
 * one goes to the new target) and an optional observer of the exchange (shadow traffic, drift).
 * With no route registered the proxy pays one `Map.size` check.
 */
import type { ExchangeObserver, ServedModelRoute, ServedModelsService } from "gantry/plugin";

export class ServedModels implements ServedModelsService {
  readonly #routes = new Map<string, ServedModelRoute>();

  /** Routes `name`; the answer removes exactly this route (a later one for the same name stays). */
  route(name: string, route: ServedModelRoute): () => void {
    this.#routes.set(name, route);
    return () => {
      if (this.#routes.get(name) === route) this.#routes.delete(name);
    };
  }

  /** The instance name or alias this request for `model` goes to (`model` itself when nothing routes it). */
  target(model: string): string {
    if (this.#routes.size === 0) return model;
    return this.#routes.get(model)?.target() ?? model;
  }

  /** The observer of this request's exchange, when the route wants one. */
  observer(model: string, path: string): ExchangeObserver | undefined {
    if (this.#routes.size === 0) return undefined;
    return this.#routes.get(model)?.observe?.(path);
  }
}
