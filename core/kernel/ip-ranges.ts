/**
 * IP addresses as 16 bytes (IPv4 as its IPv4-mapped IPv6 form), CIDR ranges, and which addresses are
 * not public: what the outbound guard refuses unless the configuration allows it.
 */
import { isIP } from "node:net";

/** An address range: `bytes` masked to its first `bits` bits (IPv4 ranges are stored mapped, bits + 96). */
export interface Cidr {
  bytes: Uint8Array;
  bits: number;
}

/** 16 bytes of an IPv4 or IPv6 address (brackets and a zone `%eth0` accepted); undefined when it is not one. */
export function addressBytes(text: string): Uint8Array | undefined {
  const ip = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const family = isIP(ip);
  if (family === 4) return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip.split(".").map(Number)]);
  if (family !== 6) return undefined;
  // A trailing dotted IPv4 (::ffff:1.2.3.4, ::1.2.3.4, 64:ff9b::10.0.0.1) becomes two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip)?.[1];
  const [a, b, c, d] = (dotted ?? "").split(".").map(Number);
  const hex = dotted ? `${ip.slice(0, -dotted.length)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}` : ip;
  const [head, tail] = hex.includes("::") ? hex.split("::") : [hex, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`) or one address (`192.168.1.5`: /32, `::1`: /128); undefined when it is neither. */
export function parseCidr(text: string): Cidr | undefined {
  const [ip, prefix, extra] = text.split("/");
  if (extra !== undefined) return undefined;
  const bytes = addressBytes(ip!);
  if (!bytes) return undefined;
  const v4 = isIP(ip!) === 4;
  const max = v4 ? 32 : 128;
  if (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) return undefined;
  const bits = prefix === undefined ? max : Number(prefix);
  if (bits > max) return undefined;
  return { bytes, bits: v4 ? bits + 96 : bits };
}

/** Whether `address` (16 bytes) lies in `range`. */
export function inCidr(address: Uint8Array, range: Cidr): boolean {
  for (let bit = 0; bit < range.bits; bit += 8) {
    const take = Math.min(8, range.bits - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((address[bit / 8]! & mask) !== (range.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

/** The text form of 16 bytes: dotted IPv4 for mapped addresses, else compressed IPv6. */
export function formatAddress(bytes: Uint8Array): string {
  if (inCidr(bytes, MAPPED)) return [...bytes.slice(12)].join(".");
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!).toString(16));
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1); // the URL parser compresses
}

const range = (text: string): Cidr => parseCidr(text)!;
const MAPPED = range("::ffff:0:0/96");

/** IPv4 ranges that are not public (RFC 6890's special-purpose registry, plus multicast and reserved space). */
const V4_NOT_PUBLIC: [string, string][] = [
  ["0.0.0.0/8", "this network (0.0.0.0/8)"],
  ["10.0.0.0/8", "private (10.0.0.0/8)"],
  ["100.64.0.0/10", "shared address space, CGNAT (100.64.0.0/10)"],
  ["127.0.0.0/8", "loopback (127.0.0.0/8)"],
  ["169.254.0.0/16", "link-local (169.254.0.0/16)"],
  ["172.16.0.0/12", "private (172.16.0.0/12)"],
  ["192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"],
  ["192.0.2.0/24", "documentation (192.0.2.0/24)"],
  ["192.88.99.0/24", "6to4 relay anycast (192.88.99.0/24)"],
  ["192.168.0.0/16", "private (192.168.0.0/16)"],
  ["198.18.0.0/15", "benchmarking (198.18.0.0/15)"],
  ["198.51.100.0/24", "documentation (198.51.100.0/24)"],
  ["203.0.113.0/24", "documentation (203.0.113.0/24)"],
  ["224.0.0.0/4", "multicast (224.0.0.0/4)"],
  ["240.0.0.0/4", "reserved or broadcast (240.0.0.0/4)"],
];

/** IPv6 ranges inside global unicast (2000::/3) that are not public; everything outside 2000::/3 is refused unless it embeds a public IPv4. */
const V6_NOT_PUBLIC: [string, string][] = [
  ["2001::/23", "IETF protocol assignments, Teredo (2001::/23)"],
  ["2001:db8::/32", "documentation (2001:db8::/32)"],
  ["3fff::/20", "documentation (3fff::/20)"],
];

const V4_RANGES = V4_NOT_PUBLIC.map(([cidr, name]) => ({ cidr: range(cidr), name }));
const V6_RANGES = V6_NOT_PUBLIC.map(([cidr, name]) => ({ cidr: range(cidr), name }));
const GLOBAL_UNICAST = range("2000::/3");
const NAT64 = range("64:ff9b::/96");
const SIX_TO_FOUR = range("2002::/16");

/** IPv6 forms outside 2000::/3 with a name that says what they are. */
const V6_NAMED: [string, string][] = [
  ["::/128", "unspecified (::)"],
  ["::1/128", "loopback (::1)"],
  ["::/96", "IPv4-compatible (::/96)"],
  ["::ffff:0:0:0/96", "IPv4-translated (::ffff:0:0:0/96)"],
  ["64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"],
  ["100::/64", "discard-only (100::/64)"],
  ["fc00::/7", "unique-local (fc00::/7)"],
  ["fe80::/10", "link-local (fe80::/10)"],
  ["fec0::/10", "site-local (fec0::/10)"],
  ["ff00::/8", "multicast (ff00::/8)"],
];
const V6_NAMED_RANGES = V6_NAMED.map(([cidr, name]) => ({ cidr: range(cidr), name }));

function v4Reason(bytes: Uint8Array): string | undefined {
  return V4_RANGES.find((r) => inCidr(bytes, r.cidr))?.name;
}

/** 16 bytes of the IPv4 address at `offset` in `bytes`, mapped. */
function embeddedV4(bytes: Uint8Array, offset: number): Uint8Array {
  return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...bytes.slice(offset, offset + 4)]);
}

/**
 * Why `address` is not a public address (loopback, private, link-local, ...), or undefined when it is
 * public. IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
 */
export function nonPublicReason(address: string | Uint8Array): string | undefined {
  const bytes = typeof address === "string" ? addressBytes(address) : address;
  if (!bytes) return "not an IP address";
  if (inCidr(bytes, MAPPED)) return v4Reason(bytes);
  const embedded = inCidr(bytes, NAT64) ? embeddedV4(bytes, 12) : inCidr(bytes, SIX_TO_FOUR) ? embeddedV4(bytes, 2) : undefined;
  if (embedded) {
    const inner = v4Reason(embedded);
    const via = inCidr(bytes, NAT64) ? "NAT64 (64:ff9b::/96)" : "6to4 (2002::/16)";
    return inner ? `${via} of ${formatAddress(embedded)}, ${inner}` : undefined;
  }
  if (inCidr(bytes, GLOBAL_UNICAST)) return V6_RANGES.find((r) => inCidr(bytes, r.cidr))?.name;
  const named = V6_NAMED_RANGES.filter((r) => inCidr(bytes, r.cidr)).sort((a, b) => b.cidr.bits - a.cidr.bits)[0];
  if (named?.cidr.bits === 96) return `${named.name} of ${formatAddress(embeddedV4(bytes, 12))}`;
  return named?.name ?? "reserved IPv6 (outside 2000::/3)";
}
