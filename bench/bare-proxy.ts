/**
 * The floor for bench/proxy: the least a proxy can do in Bun — read the body, find `model`,
 * forward to the upstream port, pass the response through. No auth, no routing table, no metrics.
 * Usage: bun bench/bare-proxy.ts <listen-port> <upstream-port>
 */
const [port, upstreamPort] = process.argv.slice(2).map(Number);
Bun.serve({
  hostname: "127.0.0.1",
  port,
  async fetch(request) {
    const text = await request.text();
    if (typeof JSON.parse(text).model !== "string") return new Response("model required", { status: 400 });
    const upstream = await fetch(`http://127.0.0.1:${upstreamPort}${new URL(request.url).pathname}`, {
      method: "POST", headers: { "content-type": "application/json" }, body: text, signal: request.signal,
    });
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  },
});
