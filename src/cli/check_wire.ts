/**
 * The little protocol between `check --peer` and `check --listen`, spoken inside the verified
 * TLS connection (never in plaintext): the listener's per-connection responder greets with
 * {@link CHECK_GREETING} and what its socat saw of the client's certificate; the client answers
 * with one line — `NEXT` (a probe; the real check follows), `BYE ok` or `BYE fail <reason>` —
 * and the responder reports that line to the listener on stderr after {@link RESULT_MARKER}.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";

/** argv[0] that makes the program a check responder (started by the listener's socat). */
export const RESPONDER_FLAG = "--check-responder";
/** First word of the responder's greeting. */
export const CHECK_GREETING = "WSREP_SST_RSYNC_TUNNEL_CHECK";
/** First word of the responder's report line on stderr. */
export const RESULT_MARKER = "wsrep-sst-check-result";

/** What the listener's socat saw of the client's certificate (socat's environment). */
export interface SeenCertificate {
  subject: string;
  issuer: string;
  dns: string[];
  ip: string[];
  /** `address:port` of the client. */
  peer: string;
  protocol: string;
}

/** The greeting's payload. */
export interface Greeting {
  version: string;
  host: string;
  seen: SeenCertificate;
}

/** The responder's report to the listener. */
export interface ResponderReport {
  seen: SeenCertificate;
  /** The client's line (`NEXT`, `BYE ok`, `BYE fail …`), or "" if it sent none. */
  said: string;
}

/** One line describing a certificate as seen through socat's environment. */
export function describeSeen(s: SeenCertificate): string {
  const names = [...s.dns.map((d) => `DNS:${d}`), ...s.ip.map((i) => `IP:${i}`)];
  return `${s.subject.replaceAll(" = ", "=")}` +
    (names.length ? `; subjectAltName ${names.join(", ")}` : "") +
    `; issued by ${s.issuer.replaceAll(" = ", "=")}`;
}

/** `CN=node1 ← CN=ca` for the certificates of a chain (leaf first), ending at the anchor. */
export function chainText(certs: readonly X509Certificate[]): string {
  const subj = (t: string) => t.split("\n").join(", ");
  const parts = certs.map((c) => subj(c.subject));
  const last = certs.at(-1);
  if (last && last.subject !== last.issuer) parts.push(subj(last.issuer));
  return parts.join(" ← ");
}

/** The certificates of a PEM text, in order. */
export function pemCertificates(text: string): X509Certificate[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)]
    .map((m) => new X509Certificate(m[0]));
}
