/**
 * The outbound-address guard: every URL gantry fetches on someone's word (an agent's WebFetch, a
 * model pull, an MCP server over HTTP, OIDC discovery, a page the cache renders) goes through it.
 * It resolves the host, refuses loopback, private, link-local and other non-public addresses unless
 * `outbound.allow` lists them, connects to the very address it checked (no second DNS answer in
 * between), and follows redirects itself, checking each hop the same way.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { runtime } from "../runtime/index.ts";
import { createError, defineErrors } from "./errors.ts";
import { addressBytes, formatAddress, inCidr, nonPublicReason, parseCidr, type Cidr } from "./ip-ranges.ts";

export const OutboundErrors = defineErrors("core", {
  OUTBOUND_ADDRESS_REFUSED: createError("OUTBOUND_ADDRESS_REFUSED", 422, (host: string, address: string, why: string) => `Refused to connect to ${host}: ${address} is ${why}; an operator may list it in outbound.allow (gantry.toml) to reach it`),
  OUTBOUND_URL_INVALID: createError("OUTBOUND_URL_INVALID", 400, (why: string) => `Cannot fetch that URL: ${why}`),
  OUTBOUND_HOST_UNRESOLVED: createError("OUTBOUND_HOST_UNRESOLVED", 502, (host: string, why: string) => `Cannot resolve ${host}: ${why}`),
  OUTBOUND_TOO_MANY_REDIRECTS: createError("OUTBOUND_TOO_MANY_REDIRECTS", 502, (host: string, limit: number) => `${host} redirected more than ${limit} times (outbound.max_redirects)`),
});

/** One `outbound.allow` entry: an address range, or a host name (`*.` for its subdomains); with a port, only that port. */
export type AllowEntry = { cidr: Cidr; port?: number } | { name: string; subdomains: boolean; port?: number };

const NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** Parses an allow entry (`10.0.0.0/8`, `127.0.0.1:8081`, `[::1]:9000`, `mirror.lan`, `*.corp.example:8443`); undefined when it is none. */
export function parseAllowEntry(text: string): AllowEntry | undefined {
  const cidr = parseCidr(text);
  if (cidr) return { cidr };
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const host = match ? (match[1] ?? match[2]!) : text;
  const port = match ? Number(match[3]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const address = parseCidr(host);
  if (address) return { cidr: address, port };
  const name = host.toLowerCase().replace(/\.$/, "");
  if (match?.[1] !== undefined || !NAME.test(name)) return undefined;
  return { name: name.replace(/^\*\./, ""), subdomains: name.startsWith("*."), port };
}

/** The outbound settings the guard reads at each check (so a config reload applies at once). */
export interface OutboundSettings {
  allow: string[];
  maxRedirects: number;
}

/** Where a checked URL goes: the URL as asked, and the address the connection must use. */
export interface OutboundTarget {
  url: URL;
  address: string;
}

/** Resolves a host name to every address it has. */
export type Resolver = (host: string) => Promise<string[]>;

const dnsResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Schemes the guard fetches. */
const WEB = new Set(["http:", "https:"]);

export class OutboundGuard {
  #parsed: { source: string[]; entries: AllowEntry[] } = { source: [], entries: [] };

  constructor(private readonly settings: () => OutboundSettings, private readonly resolve: Resolver = dnsResolver) {}

  /** Resolves `url`'s host and checks every address it has; throws OUTBOUND_* errors. */
  async check(raw: string | URL): Promise<OutboundTarget> {
    const url = parseUrl(raw);
    const host = url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const literal = isIP(host) !== 0;
    const nameAllowed = !literal && this.#entries().some((e) => "name" in e && portMatches(e, port) && (host === e.name || (e.subdomains && host.endsWith(`.${e.name}`))));
    let addresses: string[];
    try {
      addresses = literal ? [host] : await this.resolve(host);
    } catch (error) {
      throw OutboundErrors.OUTBOUND_HOST_UNRESOLVED([url.host, (error as { code?: string }).code ?? (error as Error).message]);
    }
    if (addresses.length === 0) throw OutboundErrors.OUTBOUND_HOST_UNRESOLVED([url.host, "no address"]);
    // Every address must pass: a name with one public and one internal answer is refused, whichever one a connection would get.
    for (const address of addresses) {
      const why = nonPublicReason(address);
      if (why && !nameAllowed && !this.#addressAllowed(address, port)) throw OutboundErrors.OUTBOUND_ADDRESS_REFUSED([url.host, spelled(address), why]);
    }
    return { url, address: addresses[0]! };
  }

  /**
   * fetch() through the guard: each hop checked, connected to the checked address, redirects followed
   * here (up to outbound.max_redirects) unless `init.redirect` is "manual". Credentials and cookies
   * are not sent on to another origin; a 303 (or a 301/302 after a POST) continues as a GET.
   */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    let url = parseUrl(input);
    let method = (init.method ?? "GET").toUpperCase();
    let body = init.body;
    const headers = new Headers(init.headers);
    const limit = this.settings().maxRedirects;
    for (let hop = 0; ; hop++) {
      const target = await this.check(url);
      const response = await runtime.fetchAt(target.url, target.address, { ...init, method, body, headers, redirect: "manual" });
      Object.defineProperty(response, "url", { value: url.href }); // the name asked for, not the address connected to
      const location = response.headers.get("location");
      if (init.redirect === "manual" || response.status < 300 || response.status > 399 || !location) return response;
      if (init.redirect === "error") throw OutboundErrors.OUTBOUND_TOO_MANY_REDIRECTS([url.host, 0]);
      await response.body?.cancel().catch(() => undefined);
      if (hop >= limit) throw OutboundErrors.OUTBOUND_TOO_MANY_REDIRECTS([url.host, limit]);
      const next = new URL(location, url);
      if (next.origin !== url.origin) for (const name of ["authorization", "cookie", "proxy-authorization"]) headers.delete(name);
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
        if (method !== "HEAD") method = "GET";
        body = undefined;
        for (const name of ["content-type", "content-length", "content-encoding"]) headers.delete(name);
      } else if (body instanceof ReadableStream) {
        throw OutboundErrors.OUTBOUND_URL_INVALID([`${url.host} redirected a streamed request body (${response.status}), which cannot be sent again`]);
      }
      url = next;
    }
  }

  #entries(): AllowEntry[] {
    const source = this.settings().allow;
    if (source !== this.#parsed.source) this.#parsed = { source, entries: source.map(parseAllowEntry).filter((e): e is AllowEntry => e !== undefined) };
    return this.#parsed.entries;
  }

  #addressAllowed(address: string, port: number): boolean {
    const bytes = addressBytes(address)!;
    return this.#entries().some((e) => "cidr" in e && portMatches(e, port) && inCidr(bytes, e.cidr));
  }
}

/** The address as resolved, and in its plain form when that differs (::ffff:7f00:1 is 127.0.0.1). */
function spelled(address: string): string {
  const plain = formatAddress(addressBytes(address)!);
  return plain === address ? address : `${address} (${plain})`;
}

function portMatches(entry: AllowEntry, port: number): boolean {
  return entry.port === undefined || entry.port === port;
}

function parseUrl(raw: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw OutboundErrors.OUTBOUND_URL_INVALID(["it is not an absolute URL"]);
  }
  if (!WEB.has(url.protocol)) throw OutboundErrors.OUTBOUND_URL_INVALID([`only http and https URLs are fetched, not ${url.protocol}`]);
  return url;
}
