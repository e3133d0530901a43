/**
 * IP address literals, the one parser of the program: SST addresses (`core/address.ts`) and
 * certificate name matching (`tunnel/host_names.ts`) both read IPs with it.
 *
 * The grammar is that of `inet_pton` and of URL hosts: IPv4 as four decimal octets 0–255
 * without leading zeros (`010.0.0.1` is no address); IPv6 as eight groups of 1–4 hex digits,
 * where one `::` stands for one or more zero groups and the last 32 bits may be written as an
 * IPv4 literal (`::ffff:10.0.0.1`). No brackets, zone ids (`%eth0`) or surrounding spaces.
 *
 * @module
 */

/** One IPv4 octet: 0–255, no leading zero. */
const OCTET_RE = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** One IPv6 group: 1–4 hex digits. */
const GROUP_RE = /^[0-9A-Fa-f]{1,4}$/;

/** A dotted-quad IPv4 literal as its 4 bytes, or null. */
export function parseIpv4Bytes(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET_RE.test(p))) return null;
  return parts.map(Number);
}

/** An IPv6 literal (without brackets) as its 16 bytes, or null. */
export function parseIpv6Bytes(text: string): number[] | null {
  const halves = text.split("::");
  if (!text.includes(":") || halves.length > 2) return null;
  const compressed = halves.length === 2;
  // An embedded IPv4 literal can only be the last 32 bits, so only at the very end.
  const left = groupBytes(halves[0], !compressed);
  const right = compressed ? groupBytes(halves[1], true) : [];
  if (left === null || right === null) return null;
  const missing = 16 - left.length - right.length;
  if (compressed ? missing < 2 : missing !== 0) return null;
  return [...left, ...new Array<number>(missing).fill(0), ...right];
}

/** An IPv4 or IPv6 literal as its 4 or 16 bytes, or null. */
export function parseIpBytes(text: string): number[] | null {
  return parseIpv4Bytes(text) ?? parseIpv6Bytes(text);
}

/** True for an IPv4 literal (what {@link parseIpv4Bytes} reads). */
export function isIpv4(text: string): boolean {
  return parseIpv4Bytes(text) !== null;
}

/** True for an IPv6 literal without brackets (what {@link parseIpv6Bytes} reads). */
export function isIpv6(text: string): boolean {
  return parseIpv6Bytes(text) !== null;
}

/** True if `a` and `b` are the same address (byte arrays from the parsers above). */
export function sameIpBytes(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Colon-separated groups as bytes; the last one may be an IPv4 literal when `ipv4Last`. */
function groupBytes(text: string, ipv4Last: boolean): number[] | null {
  if (text === "") return [];
  const out: number[] = [];
  const parts = text.split(":");
  for (const [i, part] of parts.entries()) {
    const v4 = ipv4Last && i === parts.length - 1 ? parseIpv4Bytes(part) : null;
    if (v4) {
      out.push(...v4);
    } else if (GROUP_RE.test(part)) {
      const n = parseInt(part, 16);
      out.push(n >> 8, n & 0xff);
    } else {
      return null;
    }
  }
  return out;
}
