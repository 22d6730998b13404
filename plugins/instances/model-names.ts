/**
 * Model ids clients send: instance names may be any id a client hard-codes (`qwen2.5:7b`,
 * `Qwen/Qwen2.5-7B-Instruct`), and each instance may carry aliases (`gpt-4o-mini` → `qwen-7b`).
 */
import { t } from "gantry/plugin";

/** Letters, digits and `. _ - : /`; no `..`, no `//`, no leading or trailing `/` (names end up in URLs and log file names). */
export const MODEL_ID_PATTERN = "^(?!.*\\.\\.)(?!.*//)[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}(?<!/)$";

export const ModelId = t.String({ pattern: MODEL_ID_PATTERN, description: "a model id: letters, digits, . _ - : / (URL-encode / in paths)" });
export const Aliases = t.Array(ModelId, { maxItems: 32, uniqueItems: true, description: "other model ids that reach this instance" });

/** A model id from a URL path; text that is not valid percent-encoding stays as sent (it names no model: a 404, not a 500). */
export function decodeModelId(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

interface Named {
  definition: { name: string; aliases: string[] };
}

/** Name and alias → instance, rebuilt whenever the set of instances or their aliases change. */
export class ModelNames<S extends Named> {
  #byId = new Map<string, S>();

  rebuild(instances: Iterable<S>): void {
    const list = [...instances];
    const byId = new Map<string, S>();
    for (const s of list) for (const alias of s.definition.aliases) byId.set(alias, s);
    for (const s of list) byId.set(s.definition.name, s); // a name wins over another instance's alias
    this.#byId = byId;
  }

  /** The instance a client's model id means; Ollama clients add `:latest` to bare names. */
  resolve(id: string): S | undefined {
    return this.#byId.get(id) ?? (id.endsWith(":latest") ? this.#byId.get(id.slice(0, -7)) : undefined);
  }

  /** The instance that already answers to `id`, other than `self`. */
  owner(id: string, self?: string): string | undefined {
    const s = this.#byId.get(id);
    return s && s.definition.name !== self ? s.definition.name : undefined;
  }
}

/** The first `"model": "..."` member of an answer or stream event (a key inside a JSON string is escaped, so never matches). */
const MODEL_MEMBER = /"model"\s*:\s*"(?:[^"\\]|\\.)*"/;

/**
 * `json` (a model server's answer or one stream event) naming `quoted` (the client's model id,
 * JSON-quoted) as its model, or null when it already does or names none. Model servers answer
 * with their own name for the model (llama.cpp's is the GGUF path); clients read back the id they sent.
 */
export function renamedModel(json: string, quoted: string): string | null {
  const match = MODEL_MEMBER.exec(json);
  if (!match || match[0] === `"model":${quoted}`) return null;
  return `${json.slice(0, match.index)}"model":${quoted}${json.slice(match.index + match[0].length)}`;
}
