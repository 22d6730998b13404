/** Services that plugins provide to each other, looked up by name on every use; typed by the Services contracts. */
import { Errors } from "./errors.ts";
import { OwnedRegistry, type Owner } from "./owned-registry.ts";
import type { ServiceName, Services } from "./service-contracts.ts";

export class ServiceRegistry {
  readonly #services = new OwnedRegistry<object>("Service");

  provide(owner: Owner, name: string, implementation: object): () => void {
    return this.#services.add(name, owner, implementation);
  }

  /** The current implementation, or undefined when no active plugin provides it. */
  get<K extends ServiceName>(name: K): Services[K] | undefined {
    return this.#services.get(name) as Services[K] | undefined;
  }

  /**
   * A stable handle that forwards each property access to the current provider, so a
   * consumer may keep it across the provider's reloads; throws SERVICE_UNAVAILABLE when none.
   */
  consume<K extends ServiceName>(name: K): Services[K] {
    return new Proxy({} as Services[K], {
      get: (_, property) => {
        const current = this.#services.get(name);
        if (!current) throw Errors.SERVICE_UNAVAILABLE([name]);
        const value = Reflect.get(current, property);
        return typeof value === "function" ? value.bind(current) : value;
      },
      has: (_, property) => {
        const current = this.#services.get(name);
        return current !== undefined && property in current;
      },
    });
  }

  has(name: string): boolean {
    return this.#services.get(name) !== undefined;
  }

  list(): { name: string; plugin: string }[] {
    return this.#services.entries().map((e) => ({ name: e.key, plugin: e.owner.plugin }));
  }
}
