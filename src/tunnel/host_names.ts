/**
 * Whether a certificate is issued for a host name or IP address, as RFC 6125 says: SAN DNS and
 * IP entries (wildcards in the left-most label only), the subject CN only without SAN DNS
 * entries. socat enforces the peer's name itself during the handshake (see the module comment
 * of certificates.ts for how it differs); this is for diagnostics and advice.
 *
 * @module
 */
import { parseIpBytes, sameIpBytes } from "../core/ip.ts";
import type { CertificateInfo } from "./certificate_info.ts";

function normalizeDns(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/**
 * RFC 6125 §6.4.3: a wildcard only in the left-most label, matching exactly one label; the
 * pattern needs at least two labels after it; no wildcard in IDN (`xn--`) labels.
 */
function dnsNameMatches(pattern: string, host: string): boolean {
  const p = normalizeDns(pattern).split(".");
  const h = normalizeDns(host).split(".");
  if (!p[0].includes("*")) return p.join(".") === h.join(".");
  if (p.length < 3 || p.length !== h.length || p.slice(1).some((l) => l.includes("*"))) {
    return false;
  }
  if (p.slice(1).join(".") !== h.slice(1).join(".")) return false;
  const [prefix, suffix, ...more] = p[0].split("*");
  if (more.length > 0 || (p[0] !== "*" && h[0].startsWith("xn--"))) return false;
  return h[0].length >= prefix.length + suffix.length + (p[0] === "*" ? 1 : 0) &&
    h[0].startsWith(prefix) && h[0].endsWith(suffix);
}

/** Strips IPv6 brackets and a zone id; null when `host` is no IP literal. */
function hostIp(host: string): number[] | null {
  const bare = host.trim().replace(/^\[(.*)\]$/, "$1");
  return parseIpBytes(bare.includes(":") ? bare.replace(/%.*$/, "") : bare);
}

function sameIpText(text: string, ip: number[]): boolean {
  const other = parseIpBytes(text.trim());
  return other !== null && sameIpBytes(other, ip);
}

/**
 * True if `host` (a DNS name or an IP literal, IPv6 possibly in brackets) is a name the
 * certificate is valid for: SAN DNS/IP entries first (wildcards as in RFC 6125, left-most label
 * only); CN only when the cert has no SAN DNS entries. DNS names compare case-insensitively,
 * IP addresses as addresses (`::1` equals `0:0:0:0:0:0:0:1`).
 */
export function certificateMatchesHost(leaf: CertificateInfo, host: string): boolean {
  const ip = hostIp(host);
  if (ip) {
    if (leaf.ipAddresses.some((a) => sameIpText(a, ip))) return true;
  } else if (leaf.dnsNames.some((p) => dnsNameMatches(p, host))) {
    return true;
  }
  if (leaf.dnsNames.length > 0 || leaf.cn === undefined) return false;
  return ip ? sameIpText(leaf.cn, ip) : dnsNameMatches(leaf.cn, host);
}
