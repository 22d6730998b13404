/** The baseline for bench/overhead: a bare Bun.serve answering /healthz with the same JSON shape. */
const port = Number(process.argv[2]);
const startedAt = Date.now();
Bun.serve({
  hostname: "127.0.0.1",
  port,
  fetch(request) {
    if (new URL(request.url).pathname === "/healthz") {
      return Response.json({ status: "ok", version: "0.1.0", uptime_s: Math.round((Date.now() - startedAt) / 1000) });
    }
    return new Response("not found", { status: 404 });
  },
});
