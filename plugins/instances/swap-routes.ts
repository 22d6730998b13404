/**
 * llama-swap's helper routes, for scripts written against it: /running lists running models,
 * /unload stops them all, /upstream/{model}/... reaches a model server's own endpoints as they are.
 */
import { t, type RolesApp } from "gantry/plugin";
import { InferenceErrors } from "./inference-errors.ts";
import { decodeModelId } from "./model-names.ts";
import { relay, type Upstream } from "./proxy.ts";

const STATE: Record<string, string> = { running: "ready", starting: "starting", stopping: "stopping" };
const Running = t.Object({ running: t.Array(t.Object({ model: t.String(), state: t.String({ description: "ready, starting or stopping" }), ttl: t.Integer({ description: "idle_timeout in seconds; 0 = never" }) })) });

export function swapRoutes(upstream: Upstream) {
  const m = upstream.manager;
  /** `a/b/v1/models` → the longest leading run of segments that names a model (ids may hold `/`), and the rest. */
  const split = (rest: string): { model: string; path: string } => {
    const segments = rest.split("/");
    for (let i = segments.length; i >= 1; i--) {
      const id = decodeModelId(segments.slice(0, i).join("/"));
      if (m.resolve(id)) return { model: id, path: `/${segments.slice(i).join("/")}` };
    }
    throw InferenceErrors.MODEL_NOT_FOUND([decodeModelId(segments[0] ?? "")]);
  };
  /** Forwards method, path, query, content type and body as they came; the instance starts on demand. */
  const raw = async ({ params, request, set }: { params: { "*": string }; request: Request; set: { headers: Record<string, unknown> } }) => {
    const { model, path } = split(params["*"]);
    const { supervisor, o } = await upstream.admit(model, request, "upstream", set.headers["x-request-id"] as string | undefined, false);
    const query = request.url.indexOf("?");
    const headers: Record<string, string> = {};
    for (const name of ["content-type", "accept"]) {
      const value = request.headers.get(name);
      if (value) headers[name] = value;
    }
    const body = request.method === "POST" ? await request.arrayBuffer() : null;
    return relay(await upstream.send(supervisor, path + (query === -1 ? "" : request.url.slice(query)), { method: request.method, headers, body, signal: request.signal }, o), o, { family: "raw" });
  };
  const rawOptions = (summary: string) => ({
    role: "operator" as const,
    detail: {
      summary: `A model server's own endpoint as it answers (llama-swap's /upstream/{model}/...); ${summary}`, tags: ["llama-swap"],
      responses: { 200: { description: "the server's answer, relayed", content: { "*/*": { schema: {} } } }, 404: { description: "no instance answers to this model id" }, 503: { description: "the instance is stopped and not started on demand" } },
    },
  });
  return (app: RolesApp) =>
    app
      .get("/running", () => ({
        running: m.supervisors().filter((s) => STATE[s.status]).map((s) => ({ model: s.definition.name, state: STATE[s.status]!, ttl: s.definition.idleTimeout })),
      }), { role: "inference", response: Running, detail: { summary: "Running models, as llama-swap lists them", tags: ["llama-swap"] } })
      .get("/unload", async () => {
        await m.stopAll();
        return "OK";
      }, { role: "operator", response: t.String(), detail: { summary: "Stop every running instance (llama-swap's unload)", tags: ["llama-swap"] } })
      .get("/upstream/*", raw, rawOptions("GET: a page or JSON of the server (llama.cpp's web UI, /slots, /props)"))
      .post("/upstream/*", raw, { ...rawOptions("POST: any of the server's own endpoints"), parse: "none" });
}
