/**
 * What a certificate says (subject, subjectAltName entries, validity, fingerprint), and the
 * checks on the node's own certificate that need nothing else: valid now, not expiring soon,
 * carrying a subjectAltName.
 *
 * @module
 */
import type { X509Certificate } from "node:crypto";
import { ConfigError } from "../core/errors.ts";
import { type Key, ref, utc } from "./tls_keys.ts";

/** What we learnt about a certificate. */
export interface CertificateInfo {
  /** Subject as one line, e.g. `CN=node1, O=Example`. */
  subject: string;
  cn?: string;
  /** subjectAltName DNS entries, as written in the certificate. */
  dnsNames: string[];
  /** subjectAltName IP entries (IPv6 in compressed form). */
  ipAddresses: string[];
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprint256: string;
}

/** A certificate expiring within this many days gets a warning. */
export const EXPIRY_WARNING_DAYS = 14;

const DAY_MS = 86_400_000;

/** The subject as one line, e.g. `CN=node1, O=Example`. */
export function oneLineSubject(c: X509Certificate): string {
  return c.subject.split("\n").filter((p) => p !== "").join(", ");
}

function sanEntries(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const m of text.matchAll(/([A-Za-z][A-Za-z ]*):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    let value = m[2];
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value);
      } catch { /* keep it quoted */ }
    }
    out.push([m[1], value]);
  }
  return out;
}

function certDate(c: X509Certificate, which: "validFrom" | "validTo"): Date {
  const native = (c as unknown as Record<string, unknown>)[`${which}Date`];
  return native instanceof Date ? native : new Date(c[which]);
}

/** Summarises a certificate (subject, names, validity, fingerprint). */
export function describeCertificate(c: X509Certificate): CertificateInfo {
  const parts = c.subject.split("\n").filter((p) => p !== "");
  const sans = sanEntries(c.subjectAltName ?? "");
  return {
    subject: parts.join(", "),
    cn: parts.find((p) => p.startsWith("CN="))?.slice(3),
    dnsNames: sans.filter(([t]) => t === "DNS").map(([, v]) => v),
    ipAddresses: sans.filter(([t]) => t === "IP Address").map(([, v]) => v),
    notBefore: certDate(c, "validFrom"),
    notAfter: certDate(c, "validTo"),
    fingerprint256: c.fingerprint256,
  };
}

/** The node's certificate must be valid at `now` (not yet valid or expired: an error). */
export function checkValidity(
  leaf: CertificateInfo,
  cert: Key,
  certPath: string,
  now: Date,
): void {
  const span = `valid from ${utc(leaf.notBefore)} to ${utc(leaf.notAfter)}`;
  if (now.getTime() < leaf.notBefore.getTime()) {
    throw new ConfigError(
      `${ref(cert, certPath)} is not valid yet (${span}; now is ${utc(now)}); fix this ` +
        "node's clock, or use a certificate that is already valid",
    );
  }
  if (now.getTime() > leaf.notAfter.getTime()) {
    throw new ConfigError(
      `${ref(cert, certPath)} expired on ${utc(leaf.notAfter)} (${span}; now is ` +
        `${utc(now)}); renew the certificate (and check this node's clock)`,
    );
  }
}

/** Warnings about the node's certificate: expiring soon, no subjectAltName. */
export function leafWarnings(
  leaf: CertificateInfo,
  cert: Key,
  certPath: string,
  now: Date,
): string[] {
  const out: string[] = [];
  const left = leaf.notAfter.getTime() - now.getTime();
  if (left < EXPIRY_WARNING_DAYS * DAY_MS) {
    const days = Math.floor(left / DAY_MS);
    out.push(
      `${ref(cert, certPath)} expires on ${utc(leaf.notAfter)} (in ${days} day(s)); renew ` +
        "it before then",
    );
  }
  if (leaf.dnsNames.length === 0 && leaf.ipAddresses.length === 0) {
    out.push(
      `${ref(cert, certPath)} has no subjectAltName, only CN=${leaf.cn ?? "(none)"}; ` +
        "socat 1.7.4 accepts a CN match but RFC 6125 clients ignore the CN: reissue it with " +
        "subjectAltName = DNS:<host name>, IP:<address>",
    );
  }
  return out;
}
