/** The outbound guard's address classifier over a corpus of address forms, its allow entries, and its checks and redirects over real loopback HTTP. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { nonPublicReason } from "../../core/kernel/ip-ranges.ts";
import { OutboundGuard, parseAllowEntry } from "../../core/kernel/outbound-guard.ts";
import { GantryError } from "../../core/kernel/errors.ts";
import { validateConfig } from "../../core/kernel/config.ts";

/** Address forms that must never count as public, with the range each is refused as. */
const NOT_PUBLIC: [string, string][] = [
  ["127.0.0.1", "loopback"], ["127.255.255.254", "loopback"], ["::1", "loopback (::1)"], ["::", "unspecified"],
  ["::ffff:127.0.0.1", "loopback"], ["::ffff:7f00:1", "loopback"], ["[::ffff:7f00:1]", "loopback"], ["::FFFF:7F00:0001", "loopback"],
  ["::127.0.0.1", "IPv4-compatible (::/96) of 127.0.0.1"], ["::7f00:1", "IPv4-compatible (::/96) of 127.0.0.1"], ["::10.0.0.1", "IPv4-compatible"],
  ["::ffff:0:7f00:1", "IPv4-translated"],
  ["64:ff9b::127.0.0.1", "NAT64 (64:ff9b::/96) of 127.0.0.1, loopback"], ["64:ff9b::a9fe:a9fe", "of 169.254.169.254, link-local"], ["64:ff9b:1::8.8.8.8", "local-use NAT64"],
  ["2002:7f00:1::", "6to4 (2002::/16) of 127.0.0.1, loopback"], ["2002:c0a8:101::1", "of 192.168.1.1, private"], ["2002:a00:1::", "of 10.0.0.1, private"],
  ["0.0.0.0", "this network"], ["0.1.2.3", "this network"], ["10.1.2.3", "private (10.0.0.0/8)"], ["172.16.0.1", "private (172.16.0.0/12)"], ["172.31.255.255", "private"],
  ["192.168.0.1", "private (192.168.0.0/16)"], ["100.64.0.1", "CGNAT"], ["100.127.255.255", "CGNAT"], ["169.254.169.254", "link-local"],
  ["192.0.0.1", "IETF"], ["192.0.2.1", "documentation"], ["198.18.0.1", "benchmarking"], ["198.51.100.7", "documentation"], ["203.0.113.9", "documentation"],
  ["224.0.0.1", "multicast"], ["239.255.255.250", "multicast"], ["240.0.0.1", "reserved"], ["255.255.255.255", "broadcast"],
  ["fe80::1", "link-local (fe80::/10)"], ["fe80::1%eth0", "link-local"], ["febf::1", "link-local"], ["fc00::1", "unique-local"], ["fd00:ec2::254", "unique-local"],
  ["fec0::1", "site-local"], ["ff02::1", "multicast"], ["100::1", "discard-only"], ["2001:db8::1", "documentation"], ["2001::1", "Teredo"], ["3fff::1", "documentation"],
  ["1::1", "reserved IPv6"], ["::ffff:10.0.0.1", "private"], ["::ffff:a9fe:a9fe", "link-local"], ["::ffff:100.64.0.1", "CGNAT"], ["::ffff:0.0.0.0", "this network"],
  ["not-an-ip", "not an IP address"],
];
const PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1", "192.169.0.1", "223.255.255.255",
  "2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1", "2001:4860:4860::8888"];

describe("the address classifier", () => {
  test.each(NOT_PUBLIC)("%s is not public (%s)", (address, why) => {
    expect(nonPublicReason(address)).toContain(why);
  });
  test.each(PUBLIC.map((a) => [a]))("%s is public", (address) => {
    expect(nonPublicReason(address)).toBeUndefined();
  });
  test("the URL parser's spellings of IPv4 loopback all land on 127.0.0.1 and are refused", () => {
    for (const host of ["0x7f000001", "0x7f.1", "0177.0.0.1", "017700000001", "2130706433", "127.1", "127.0.1", "0x7F.0.0.1"]) {
      const hostname = new URL(`http://${host}/`).hostname;
      expect([host, nonPublicReason(hostname)]).toEqual([host, "loopback (127.0.0.0/8)"]);
    }
    expect(nonPublicReason(new URL("http://[::ffff:127.0.0.1]/").hostname)).toBe("loopback (127.0.0.0/8)");
    expect(nonPublicReason(new URL("http://[0:0:0:0:0:ffff:7f00:0001]/").hostname)).toBe("loopback (127.0.0.0/8)");
  });
});

describe("outbound.allow entries", () => {
  test("addresses, ranges, names and ports parse; anything else is refused at config load, naming the entry", () => {
    for (const good of ["10.0.0.0/8", "127.0.0.1", "127.0.0.1:8081", "::1", "[::1]:9000", "fd00::/8", "mirror.lan", "mirror.lan:8443", "*.corp.example", "localhost"]) expect([good, parseAllowEntry(good) !== undefined]).toEqual([good, true]);
    for (const bad of ["10.0.0.0/33", "http://mirror.lan", "mirror lan", "*", "::1:99999", "[mirror.lan]:80", "1.2.3.4:0", "a/b", ""]) expect([bad, parseAllowEntry(bad)]).toEqual([bad, undefined]);
    expect(() => validateConfig({ outbound: { allow: ["10.0.0.0/8", "http://bad"] } }, "test")).toThrow("outbound.allow.1: must be a CIDR");
    expect(validateConfig({}, "test").outbound).toEqual({ allow: [], max_redirects: 5 });
  });
});

describe("the guard over real HTTP", () => {
  let internal: ReturnType<typeof Bun.serve>;
  let allowed: ReturnType<typeof Bun.serve>;
  let internalHits = 0;
  beforeAll(() => {
    internal = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (internalHits++, new Response("INTERNAL-SECRET")) });
    allowed = Bun.serve({
      port: 0, hostname: "127.0.0.1",
      fetch(request) {
        const path = new URL(request.url).pathname;
        if (path === "/to-internal") return Response.redirect(`http://127.0.0.1:${internal.port}/`, 302);
        if (path === "/to-mapped") return Response.redirect(`http://[::ffff:127.0.0.1]:${internal.port}/`, 307);
        if (path === "/loop") return Response.redirect("/loop", 302);
        if (path === "/to-self") return Response.redirect("/echo", 303);
        return Response.json({ host: request.headers.get("host"), method: request.method, authorization: request.headers.get("authorization") });
      },
    });
  });
  afterAll(() => {
    internal.stop(true);
    allowed.stop(true);
  });
  const guard = (allow: string[], resolve?: (host: string) => Promise<string[]>) => new OutboundGuard(() => ({ allow, maxRedirects: 3 }), resolve);
  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    return error instanceof GantryError ? [error.code, error.status] : error;
  };

  test("without an allow entry, loopback in any spelling and any name resolving to it are refused before connecting", async () => {
    const g = guard([]);
    const p = internal.port;
    for (const url of [`http://127.0.0.1:${p}/`, `http://[::ffff:127.0.0.1]:${p}/`, `http://[::ffff:7f00:1]:${p}/`, `http://2130706433:${p}/`, `http://localhost:${p}/`, `http://[::1]:${p}/`, `http://[64:ff9b::7f00:1]:${p}/`]) {
      expect([url, await refusal(g.fetch(url))]).toEqual([url, ["OUTBOUND_ADDRESS_REFUSED", 422]]);
    }
    expect(await refusal(g.fetch("file:///etc/passwd"))).toEqual(["OUTBOUND_URL_INVALID", 400]);
    expect(await refusal(g.fetch("http://no-such-host.invalid/"))).toEqual(["OUTBOUND_HOST_UNRESOLVED", 502]);
    expect(internalHits).toBe(0);
  });

  test("an allowed address:port is fetched; a redirect from it to another port or a mapped spelling is refused; too many redirects stop", async () => {
    const g = guard([`127.0.0.1:${allowed.port}`]);
    const ok = await g.fetch(`http://127.0.0.1:${allowed.port}/echo`);
    expect(await ok.json()).toMatchObject({ host: `127.0.0.1:${allowed.port}`, method: "GET" });
    expect(await refusal(g.fetch(`http://127.0.0.1:${allowed.port}/to-internal`))).toEqual(["OUTBOUND_ADDRESS_REFUSED", 422]);
    expect(await refusal(g.fetch(`http://127.0.0.1:${allowed.port}/to-mapped`))).toEqual(["OUTBOUND_ADDRESS_REFUSED", 422]);
    expect(await refusal(g.fetch(`http://127.0.0.1:${allowed.port}/loop`))).toEqual(["OUTBOUND_TOO_MANY_REDIRECTS", 502]);
    const manual = await g.fetch(`http://127.0.0.1:${allowed.port}/to-internal`, { redirect: "manual" });
    expect(manual.status).toBe(302);
    const seeOther = await g.fetch(`http://127.0.0.1:${allowed.port}/to-self`, { method: "POST", body: "x", headers: { authorization: "Bearer t" } });
    expect(await seeOther.json()).toMatchObject({ method: "GET", authorization: "Bearer t" }); // same origin: the credential stays
    expect(seeOther.url).toBe(`http://127.0.0.1:${allowed.port}/echo`);
    expect(internalHits).toBe(0);
  });

  test("a name is checked on every address it resolves to, and the connection goes to the checked address with the name as Host", async () => {
    const mixed = guard([], async () => ["93.184.215.14", "127.0.0.1"]);
    expect(await refusal(mixed.check("http://rebind.example/"))).toEqual(["OUTBOUND_ADDRESS_REFUSED", 422]);
    // A name the operator allowed, resolved (here by a stand-in resolver) to the allowed server: Host stays the name.
    const named = guard([`site.test:${allowed.port}`], async () => ["127.0.0.1"]);
    const res = await named.fetch(`http://site.test:${allowed.port}/echo`);
    expect(await res.json()).toMatchObject({ host: `site.test:${allowed.port}` });
    expect(await refusal(named.fetch(`http://other.test:${allowed.port}/echo`))).toEqual(["OUTBOUND_ADDRESS_REFUSED", 422]);
    // Same name, another port: not what was allowed.
    expect(await refusal(named.fetch(`http://site.test:${internal.port}/`))).toEqual(["OUTBOUND_ADDRESS_REFUSED", 422]);
    expect(internalHits).toBe(0);
  });

  test("a credential is not carried to another origin on a redirect", async () => {
    const hop = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.redirect(`http://localhost:${allowed.port}/echo`, 302) });
    try {
      const res = await guard([`127.0.0.1:${hop.port}`, `localhost:${allowed.port}`], async () => ["127.0.0.1"]).fetch(`http://127.0.0.1:${hop.port}/`, { headers: { authorization: "Bearer hub-token" } });
      expect(await res.json()).toMatchObject({ host: `localhost:${allowed.port}`, authorization: null });
    } finally {
      hop.stop(true);
    }
  });
});
