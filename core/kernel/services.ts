/** Services that plugins provide to each other, looked up by name on every use. */
import { Errors } from "./errors.ts";
import { OwnedRegistry, type Owner } from "./owned-registry.ts";

export class ServiceRegistry {
  readonly #services = new OwnedRegistry<object>("Service");

  provide(owner: Owner, name: string, implementation: object): () => void {
    return this.#services.add(name, owner, implementation);
  }

  /** The current implementation, or undefined when no active plugin provides it. */
  get<T extends object>(name: string): T | undefined {
    return this.#services.get(name) as T | undefined;
  }

  /**
   * A stable handle that forwards each property access to the current provider, so a
   * consumer may keep it across the provider's reloads; throws SERVICE_UNAVAILABLE when none.
   */
  consume<T extends object>(name: string): T {
    return new Proxy({} as T, {
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
