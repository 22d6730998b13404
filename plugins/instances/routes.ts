/** /api/v1/instances: CRUD, lifecycle, health and logs (llamactl's API under gantry's /api/v1). */
import { redactText, t, type RolesApp } from "gantry/plugin";
import type { InstanceManager } from "./instance-manager.ts";
import type { NodeForwarding } from "./node-forwarding.ts";
import { atLeast, type LogLine, type LogRing } from "./log-buffer.ts";
import { Fields, Health, Instance, InstanceWithMessage, LoadBody, LogLines, LogsQuery, Message, Name, StartAll, StopAll, StopBody } from "./schemas.ts";
import { keepAliveMs } from "./keep-alive.ts";

/** A server's line as viewers see it: servers print their command line and model URL, secrets included; redacted when shown, not when kept. */
function shownLine(line: LogLine): LogLine {
  const message = redactText(line.message);
  return message === line.message ? line : { ...line, message };
}

/** Server-sent events: the recent lines, then each new one, until the client disconnects. */
function followLogs(ring: LogRing, recent: LogLine[], wanted: (line: LogLine) => boolean, signal: AbortSignal): Response {
  const encoder = new TextEncoder();
  let stop = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (line: LogLine) => controller.enqueue(encoder.encode(`data: ${JSON.stringify(shownLine(line))}\n\n`));
      recent.forEach(send);
      const unfollow = ring.follow((line) => wanted(line) && send(line));
      stop = () => {
        unfollow();
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      signal.addEventListener("abort", stop, { once: true });
    },
    cancel: () => stop(),
  });
  return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

export function instanceRoutes(m: InstanceManager, forwarding: NodeForwarding) {
  return (app: RolesApp) =>
    app
      // Cluster mode: another node's instance is answered by that node (node-forwarding.ts).
      .onBeforeHandle(({ request, params, body }) => forwarding.forwardInstanceRequest(request, (params as { name?: string } | undefined)?.name, body))
      .get("", async ({ request }) => ({ instances: [...m.list(), ...(await forwarding.othersInstances(request))] }), { role: "viewer", response: t.Object({ instances: t.Array(Instance) }), detail: { summary: "All instances" } })
      .post("/start-all", () => m.startAll(), { role: { min: "operator", rateLimit: "expensive" }, response: StartAll, detail: { summary: "Start every instance; failures are listed, not fatal" } })
      .post("/stop-all", async () => {
        await m.stopAll();
        return { stopped: m.list().map((i) => i.name) };
      }, { role: "operator", response: StopAll, detail: { summary: "Stop every instance" } })
      .post("", async ({ body, set }) => {
        const instance = await m.create(body);
        set.status = 201;
        return { message: "Instance created successfully", instance };
      }, { role: "admin", body: t.Object({ name: Name.properties.name, ...Fields, node: t.Optional(t.String({ minLength: 1, maxLength: 64, description: "cluster mode: the node to run it on (default: the node that answers)" })) }), response: { 201: t.Object({ message: t.String(), instance: Instance }) }, detail: { summary: "Create an instance (stopped)" } })
      .get("/:name", ({ params }) => m.get(params.name), { role: "viewer", params: Name, response: Instance, detail: { summary: "One instance with pid, options and stats" } })
      .put("/:name", ({ params, body }) => m.update(params.name, body), {
        role: "admin", params: Name, body: t.Partial(t.Object(Fields)), response: Instance, detail: { summary: "Change a stopped instance" },
      })
      .delete("/:name", async ({ params }) => {
        await m.delete(params.name);
        return { message: "Instance deleted successfully" };
      }, { role: "admin", params: Name, response: Message, detail: { summary: "Delete a stopped instance (409 while running)" } })
      // The documented API answers {message, status}; gantry waits for the outcome, so the message says what happened and the instance follows.
      .post("/:name/start", async ({ params }) => ({ message: "Instance started", ...(await m.start(params.name)) }), { role: { min: "operator", rateLimit: "expensive" }, params: Name, response: InstanceWithMessage, detail: { summary: "Start and wait until healthy" } })
      .post("/:name/stop", async ({ params, body }) => ({ message: "Instance stopped", ...(await m.stop(params.name, body ?? {})) }), {
        role: "operator", params: Name,
        body: StopBody, response: InstanceWithMessage,
        detail: { summary: "SIGTERM, then SIGKILL after the timeout (force: SIGKILL now)" },
      })
      .post("/:name/restart", async ({ params }) => {
        await m.stop(params.name);
        return { message: "Instance restarted", ...(await m.start(params.name)) };
      }, { role: { min: "operator", rateLimit: "expensive" }, params: Name, response: InstanceWithMessage, detail: { summary: "Stop, then start" } })
      .post("/:name/load", async ({ params, body }) => {
        const keepMs = body?.keep_alive === undefined ? null : keepAliveMs(body.keep_alive);
        if (keepMs === 0) return { message: "Instance unloaded", ...(await m.unload(params.name)) };
        return { message: "Instance loaded", ...(await m.loadModel(params.name, keepMs)) };
      }, {
        role: { min: "operator", rateLimit: "expensive" }, params: Name, body: LoadBody, response: InstanceWithMessage,
        detail: { summary: "Load: start with placement (evicting idle instances to make room; 409 NO_ROOM names what would have to stop) and keep it loaded for keep_alive" },
      })
      .post("/:name/unload", async ({ params }) => ({ message: "Instance unloaded", ...(await m.unload(params.name)) }), {
        role: "operator", params: Name, response: InstanceWithMessage,
        detail: { summary: "Unload: new requests wait, those in flight finish (up to eviction_wait_s, else 409 UNLOAD_BUSY), then stop" },
      })
      .get("/:name/health", async ({ params }) => {
        const supervisor = m.supervisor(params.name);
        await supervisor.checkHealth();
        return { name: params.name, ...supervisor.health, instance_status: supervisor.status };
      }, { role: "viewer", params: Name, response: Health, detail: { summary: "The documented {status: healthy|loading|unhealthy|stopped, checks: {process, port, response}, last_check}, probed now (loading: the server answers 503 while it loads its model)" } })
      .get("/:name/logs", ({ params, query, request }) => {
        const supervisor = m.supervisor(params.name);
        const level = atLeast(query.level);
        const wanted = (line: LogLine) => level(line) && (query.stream === undefined || line.stream === query.stream);
        const recent = supervisor.logs.tail(query.lines ?? 100, wanted);
        if (!query.follow) return { logs: recent.map(shownLine) };
        return followLogs(supervisor.logs, recent, wanted, request.signal);
      }, {
        role: "viewer", params: Name,
        query: LogsQuery, response: LogLines,
        detail: { summary: "The server's recent output {logs: [{timestamp, level, message, stream}]}; follow=true streams" },
      });
}
