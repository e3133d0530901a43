/**
 * Certificate preflight: checks the node's TLS material (`[sst] tca`, `tcapath`, `tcert`,
 * `tkey`) locally before socat starts, so that a bad file fails the SST before any data moves,
 * with one actionable line. Also turns socat's TLS error lines into such lines.
 *
 * What socat 1.7.4.4 with OpenSSL 3.0 does (each point is reproduced by a test in
 * test/unit/certificates_test.ts):
 *
 * - `commonname=` is compared with every subjectAltName DNS entry (plain `strcmp`, so it is
 *   case-sensitive; `*.d` matches `d` itself and one more label), then with every SAN IP entry
 *   (as addresses: `::1` equals `0:0:0:0:0:0:0:1`), and, when no SAN matched, with the subject
 *   CN even if the certificate has SANs. So socat enforces the peer's name itself and we need
 *   no name check of our own during the handshake; {@link certificateMatchesHost} follows RFC
 *   6125 (stricter: CN only without SAN DNS entries) and is meant for diagnostics.
 * - A SAN IPv6 entry makes socat resolve the expected name as IPv6; a name that is not an IPv6
 *   literal then aborts the check with `getaddrinfo("<name>", "NULL", {1,10,0,0}, {}): Address
 *   family for hostname not supported` (or `Name or service not known`), even when a later SAN
 *   or the CN would match.
 * - An empty `commonname=` disables the name check while the chain is still verified (socat
 *   1.7.4 and 1.8; the stock mariabackup script relies on it too): passed only for
 *   `ssl-mode=VERIFY_CA`.
 * - On a name mismatch socat logs `certificate is valid but its commonName does not match
 *   hostname "<name>"`.
 * - The verifying side logs only `SSL_connect(): error:0A000086:SSL routines::certificate
 *   verify failed` (or `SSL_accept(): …`), never the X509 reason (untrusted, expired, not yet
 *   valid, wrong purpose all look alike). The rejected side gets the reason as a TLS alert:
 *   `tlsv1 alert unknown ca`, `sslv3 alert certificate expired`, `sslv3 alert bad certificate`
 *   (not yet valid), `sslv3 alert unsupported certificate` (wrong purpose).
 * - A client without certificate: the listener logs `peer did not return a certificate`, the
 *   client `tlsv13 alert certificate required`.
 * - TLS to a plaintext server: `wrong version number` (or `unexpected eof while reading` when it
 *   closes silently); plaintext to a TLS listener: `wrong version number` or `http request`.
 * - libssl checks the certificate purpose by default: the listener's (joiner's) certificate as
 *   `sslserver`, the connecting (donor's) certificate as `sslclient`. The preflight checks
 *   exactly that purpose for the role and only warns about the other one.
 * - A `capath=` directory is searched only through `<subject-hash>.N` names (`openssl
 *   rehash`); plain `*.pem` files there verify nothing (`unable to get local issuer
 *   certificate`).
 * - socat stops at its first error, so a failure yields one `E` line.
 *
 * @module
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { denoAdapter, type ProcessAdapter, run } from "../proc/process.ts";
import { ConfigError, ExitCode, MissingToolError, SstError } from "../core/errors.ts";
import { oneLine } from "./tls_failures.ts";
import { type OpensslCli, opensslCli, trustOnlyArgs } from "./openssl_cli.ts";
import type { SettingName, TlsField } from "../config/tls_settings.ts";

/** The raw values naming the TLS material (`tca`, `tcapath`, `tcert`, `tkey` or their aliases). */
export interface TlsFiles {
  ca?: string;
  caPath?: string;
  cert?: string;
  key?: string;
  /**
   * How messages name each setting (where its value came from); by default `[sst] tca`,
   * `[sst] tcapath`, `[sst] tcert`, `[sst] tkey`.
   */
  names?: Partial<TlsNames>;
  /**
   * No CA required (`ssl-mode=REQUIRED`: peers are not verified). A CA that is given is still
   * checked against the certificate.
   */
  caOptional?: boolean;
}

/** How messages name the four TLS settings. */
export type TlsNames = Record<TlsField, SettingName>;

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

/** The TLS material after {@link checkTlsFiles}: paths to pass to socat, and the leaf. */
export interface CheckedTls {
  caFile?: string;
  caPath?: string;
  certFile: string;
  /** The file holding the private key; equals `certFile` when the key is in `tcert`. */
  keyFile: string;
  leaf: CertificateInfo;
  /** Problems that do not stop the SST, one actionable line each. */
  warnings: string[];
  /** How messages name the settings the files came from. */
  names: TlsNames;
}

/** Which end of the tunnel this node is: the joiner listens, the donor connects. */
export type TlsRole = "joiner" | "donor";

/** Options of {@link checkTlsFiles}. */
export interface CheckOptions {
  /** The time to check validity at (default: now). Also passed to `openssl verify`. */
  now?: Date;
  /** Our role; its TLS purpose is enforced, the other role's purpose only warned about. */
  role?: TlsRole;
  /** Starts `openssl` (default: the real adapter). */
  adapter?: ProcessAdapter;
}

/** A certificate expiring within this many days gets a warning. */
export const EXPIRY_WARNING_DAYS = 14;

const DAY_MS = 86_400_000;
const VERIFY_TIMEOUT_MS = 15_000;

type SstKey = "tca" | "tcapath" | "tcert" | "tkey";

/** One TLS setting as messages name it: which one, the key to advise, where it came from. */
interface Key extends SettingName {
  id: SstKey;
}

/** The four settings of one check. */
type Keys = Record<SstKey, Key>;

const FIELD_OF: Record<SstKey, TlsField> = {
  tca: "ca",
  tcapath: "caPath",
  tcert: "cert",
  tkey: "key",
};

function keysOf(names: Partial<TlsNames> | undefined): Keys {
  const k = {} as Keys;
  for (const id of Object.keys(FIELD_OF) as SstKey[]) {
    k[id] = { id, setting: `[sst] ${id}`, ...names?.[FIELD_OF[id]] };
  }
  return k;
}

function namesOf(k: Keys): TlsNames {
  const strip = ({ setting, where }: Key): SettingName => where ? { setting, where } : { setting };
  return { ca: strip(k.tca), caPath: strip(k.tcapath), cert: strip(k.tcert), key: strip(k.tkey) };
}
/** A TLS purpose as `openssl verify -purpose` names it. */
export type Purpose = "sslserver" | "sslclient";

/** The TLS purpose libssl checks for the certificate a node of `role` presents. */
const PURPOSE: Record<TlsRole, Purpose> = { joiner: "sslserver", donor: "sslclient" };

/** The bare key (`tkey`) for the default `[sst]` keys, else the group and key as written. */
function short(key: Key): string {
  return key.setting === `[sst] ${key.id}` ? key.id : key.setting;
}

/** A setting with its value, e.g. `/etc/mysql/my.cnf:12 [mysqld] loose-ssl-cert=/x.pem`. */
function ref(key: Key, path: string): string {
  return `${key.where ?? key.setting}=${path}`;
}

function errorText(e: unknown): string {
  return oneLine(e instanceof Error ? e.message : String(e));
}

/** `2026-01-31 12:00:00 UTC` */
function utc(d: Date): string {
  return d.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " UTC");
}

function given(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

// ---------------------------------------------------------------------------------------------
// Files

interface InputFile {
  bytes: Uint8Array;
  text: string;
  mode: number;
}

/** "uid 27 (mysql)", for permission messages. */
function whoAmI(): string {
  let uid: number | null = null;
  try {
    uid = Deno.uid();
  } catch {
    return "the user we run as";
  }
  if (uid === null) return "the user we run as";
  return `uid ${uid}${userName(uid)}`;
}

function userName(uid: number): string {
  try {
    const line = Deno.readTextFileSync("/etc/passwd").split("\n")
      .find((l) => l.split(":")[2] === String(uid));
    return line ? ` (${line.split(":")[0]})` : "";
  } catch {
    return "";
  }
}

function accessError(key: Key, path: string, what: string): SstError {
  const who = whoAmI();
  return new SstError(
    ExitCode.access,
    `${ref(key, path)} is not readable by ${who}, the user this SST runs as (${what}); ` +
      `chown it to that user or chmod it so that user can read it (and every parent ` +
      `directory can be searched)`,
  );
}

function ioError(key: Key, path: string, e: unknown): SstError {
  return new SstError(
    ExitCode.io,
    `${ref(key, path)} cannot be read (${errorText(e)}); fix the file`,
  );
}

async function statInput(key: Key, path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(
        `${ref(key, path)} does not exist; fix the path in ${key.setting} or put the file there`,
      );
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw accessError(key, path, "permission denied on a parent directory");
    }
    if (e instanceof Deno.errors.NotADirectory) {
      throw new ConfigError(
        `${ref(key, path)}: a component of the path is a file, not a directory; fix the path`,
      );
    }
    throw ioError(key, path, e);
  }
}

function notAFileError(key: Key, path: string, st: Deno.FileInfo): ConfigError {
  if (st.isDirectory) {
    const hint = key.id === "tca" ? " (for a directory of CA certificates use [sst] tcapath)" : "";
    return new ConfigError(
      `${ref(key, path)} is a directory, not a file; point ${key.setting} at a PEM file${hint}`,
    );
  }
  return new ConfigError(
    `${ref(key, path)} is not a regular file (a device, FIFO or socket); point ${key.setting} ` +
      "at a PEM file",
  );
}

/** Reads one of the TLS files, turning every failure into an actionable SstError. */
async function readInput(key: Key, path: string): Promise<InputFile> {
  const st = await statInput(key, path);
  if (!st.isFile) throw notAFileError(key, path, st);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw accessError(key, path, `permission denied, mode ${octal(st.mode)}`);
    }
    throw ioError(key, path, e);
  }
  return { bytes, text: new TextDecoder().decode(bytes), mode: st.mode ?? 0 };
}

function octal(mode: number | null): string {
  return mode === null ? "unknown" : "0" + (mode & 0o7777).toString(8).padStart(3, "0");
}

// ---------------------------------------------------------------------------------------------
// PEM

interface PemBlock {
  label: string;
  pem: string;
  encrypted: boolean;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(PEM_RE)].map((m) => ({
    label: m[1],
    pem: m[0] + "\n",
    encrypted: m[1] === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,ENCRYPTED/.test(m[0]),
  }));
}

function isCertBlock(b: PemBlock): boolean {
  return b.label === "CERTIFICATE" || b.label === "X509 CERTIFICATE" ||
    b.label === "TRUSTED CERTIFICATE";
}

function isKeyBlock(b: PemBlock): boolean {
  return /(^| )PRIVATE KEY$/.test(b.label);
}

/** DER starts with a SEQUENCE tag; PEM is text. */
function looksLikeDer(bytes: Uint8Array): boolean {
  return bytes.length > 2 && bytes[0] === 0x30 && (bytes[1] & 0x80) !== 0;
}

function noCertificateError(key: Key, path: string, file: InputFile): ConfigError {
  const blocks = pemBlocks(file.text);
  let hint: string;
  if (looksLikeDer(file.bytes)) {
    hint = `it looks like binary DER; convert it with 'openssl x509 -inform der -in ${path} ` +
      `-out <file>.pem' and point ${key.setting} at the result`;
  } else if (blocks.some(isKeyBlock)) {
    hint = `it holds only a private key; point ${key.setting} at the certificate`;
  } else {
    hint = key.id === "tca"
      ? `point ${key.setting} at the PEM file of the CA certificate(s) that issued the ` +
        "nodes' certificates"
      : `point ${key.setting} at the node's PEM certificate ('-----BEGIN CERTIFICATE-----')`;
  }
  return new ConfigError(`${ref(key, path)} contains no PEM certificate; ${hint}`);
}

/** The certificates of `tcert`, leaf first. */
function parseCertificates(cert: Key, path: string, file: InputFile): X509Certificate[] {
  const blocks = pemBlocks(file.text).filter(isCertBlock);
  if (blocks.length === 0) throw noCertificateError(cert, path, file);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b.pem);
    } catch (e) {
      throw new ConfigError(
        `${ref(cert, path)}: certificate #${i + 1} cannot be parsed (${errorText(e)}); ` +
          "replace it with a valid PEM certificate",
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Key

interface KeySource {
  /** `tcert` when the key is in the certificate file, else `tkey`. */
  key: Key;
  /** The `tkey` setting, for advice. */
  keyKey: Key;
  path: string;
  file: InputFile;
}

function missingKeyError(src: KeySource): ConfigError {
  if (src.key.id === "tcert") {
    return new ConfigError(
      `${ref(src.key, src.path)} contains no private key and ${src.keyKey.setting} is not set; ` +
        `set ${src.keyKey.setting} to the node's private key file (or append the key to ` +
        `${short(src.key)})`,
    );
  }
  const holds = pemBlocks(src.file.text).some(isCertBlock) ? " (it holds a certificate)" : "";
  return new ConfigError(
    `${ref(src.key, src.path)} contains no PEM private key${holds}; point ${src.key.setting} ` +
      "at the node's private key file",
  );
}

/** Loads the private key socat will use; rejects missing, encrypted and broken keys. */
function loadKey(src: KeySource): KeyObject {
  const block = pemBlocks(src.file.text).find(isKeyBlock);
  if (!block) throw missingKeyError(src);
  if (block.encrypted) {
    throw new ConfigError(
      `${ref(src.key, src.path)} holds a passphrase-protected private key, which cannot be ` +
        "used non-interactively (nobody can type the passphrase during an SST); write a " +
        `decrypted copy with 'openssl pkey -in ${src.path} -out <new file>', chmod 600 it ` +
        `and point ${src.keyKey.setting} at it`,
    );
  }
  try {
    return createPrivateKey(block.pem);
  } catch (e) {
    throw new ConfigError(
      `${ref(src.key, src.path)} holds a private key that cannot be parsed ` +
        `(${errorText(e)}); replace it with the node's PEM private key`,
    );
  }
}

function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** The key must belong to the first certificate of `tcert` (the one socat presents). */
function checkKeyMatches(
  certs: X509Certificate[],
  key: KeyObject,
  src: KeySource,
  cert: Key,
  certPath: string,
): void {
  if (keyMatches(certs[0], key)) return;
  const other = certs.findIndex((c, i) => i > 0 && keyMatches(c, key));
  if (other > 0) {
    throw new ConfigError(
      `${ref(cert, certPath)} lists certificate #${other + 1} ` +
        `(${oneLineSubject(certs[other])}) after another one, but the private key belongs to ` +
        "it; put the node certificate first, followed by its intermediate CA certificates",
    );
  }
  if (src.key.id === "tcert") {
    throw new ConfigError(
      `the private key in ${ref(cert, certPath)} does not match its certificate (public ` +
        "keys differ); put the key the certificate was issued for into the file, or set " +
        `${src.keyKey.setting} to it`,
    );
  }
  throw new ConfigError(
    `${ref(src.key, src.path)} does not match the certificate in ${ref(cert, certPath)} ` +
      `(public keys differ); point ${short(src.key)} at the key the certificate was issued for`,
  );
}

// ---------------------------------------------------------------------------------------------
// Certificate details and names

function oneLineSubject(c: X509Certificate): string {
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

/** The details of a parsed certificate. */
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

/** An IPv4 or IPv6 literal as bytes, or null. */
function parseIp(text: string): number[] | null {
  return parseIpv4(text) ?? parseIpv6(text);
}

function parseIpv4(text: string): number[] | null {
  const m = text.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  if (!m) return null;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : null;
}

function parseIpv6(text: string): number[] | null {
  if (!text.includes(":") || text.split("::").length > 2) return null;
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  if (left === null || right === null) return null;
  const missing = 16 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 2) return null;
  return [...left, ...new Array(missing).fill(0), ...right];
}

/** Colon-separated 16-bit groups (the last may be a dotted IPv4) as bytes. */
function groups(text: string): number[] | null {
  if (text === "") return [];
  const out: number[] = [];
  const parts = text.split(":");
  for (const [i, part] of parts.entries()) {
    const v4 = i === parts.length - 1 ? parseIpv4(part) : null;
    if (v4) {
      out.push(...v4);
    } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
      const n = parseInt(part, 16);
      out.push(n >> 8, n & 0xff);
    } else {
      return null;
    }
  }
  return out;
}

function sameIp(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

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
  return parseIp(bare.includes(":") ? bare.replace(/%.*$/, "") : bare);
}

/**
 * True if `host` (a DNS name or an IP literal, IPv6 possibly in brackets) is a name the
 * certificate is valid for: SAN DNS/IP entries first (wildcards as in RFC 6125, left-most label
 * only); CN only when the cert has no SAN DNS entries. DNS names compare case-insensitively,
 * IP addresses as addresses (`::1` equals `0:0:0:0:0:0:0:1`).
 */
export function certificateMatchesHost(leaf: CheckedTls["leaf"], host: string): boolean {
  const ip = hostIp(host);
  if (ip) {
    if (leaf.ipAddresses.some((a) => sameIpText(a, ip))) return true;
  } else if (leaf.dnsNames.some((p) => dnsNameMatches(p, host))) {
    return true;
  }
  if (leaf.dnsNames.length > 0 || leaf.cn === undefined) return false;
  return ip ? sameIpText(leaf.cn, ip) : dnsNameMatches(leaf.cn, host);
}

function sameIpText(text: string, ip: number[]): boolean {
  const other = parseIp(text.trim());
  return other !== null && sameIp(other, ip);
}

// ---------------------------------------------------------------------------------------------
// Dates, CA files and directories

function checkValidity(leaf: CertificateInfo, cert: Key, certPath: string, now: Date): void {
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

function checkCaFile(ca: Key, path: string, file: InputFile): void {
  if (!pemBlocks(file.text).some(isCertBlock)) throw noCertificateError(ca, path, file);
}

/** tcapath must exist and be a directory. */
async function requireCaDir(k: Keys, path: string): Promise<void> {
  const st = await statInput(k.tcapath, path);
  if (!st.isDirectory) {
    throw new ConfigError(
      `${ref(k.tcapath, path)} is not a directory; point ${k.tcapath.setting} at a directory ` +
        "of CA certificates prepared with 'openssl rehash', or put a CA file or bundle in " +
        k.tca.setting,
    );
  }
}

const HASH_NAME_RE = /^[0-9a-f]{8}\.[0-9]+$/;

async function listDir(capath: Key, path: string): Promise<string[]> {
  try {
    const names: string[] = [];
    for await (const e of Deno.readDir(path)) names.push(e.name);
    return names;
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw accessError(capath, path, "the directory cannot be listed");
    }
    throw ioError(capath, path, e);
  }
}

/**
 * OpenSSL finds CA certificates in a capath only by `<subject-hash>.N` names. Without any, the
 * directory is useless: an error, or a warning when `tca` is there to do the job.
 */
async function checkCaDir(
  k: Keys,
  path: string,
  haveCaFile: boolean,
  warnings: string[],
): Promise<void> {
  const names = await listDir(k.tcapath, path);
  if (names.some((n) => HASH_NAME_RE.test(n))) return;
  const found = names.length === 0 ? "it is empty" : `${names.length} entries, none hashed`;
  const message = `${ref(k.tcapath, path)} has no <subject-hash>.0 entries, the only names ` +
    `OpenSSL looks CA certificates up by (${found}); run 'openssl rehash ${path}'` +
    (names.length === 0 ? " after copying the CA certificates there" : "");
  if (!haveCaFile) throw new ConfigError(message);
  warnings.push(`${message} (until then only ${k.tca.setting} is used)`);
}

// ---------------------------------------------------------------------------------------------
// Chain verification with `openssl verify`

/** What one `openssl verify` run checks. */
export interface VerifyPlan {
  adapter: ProcessAdapter;
  caFile?: string;
  caPath?: string;
  leafPem: string;
  /** tcert, when it holds intermediates after the leaf. */
  untrusted?: string;
  now?: Date;
}

/** How `openssl verify` ended. */
type VerifyOutcome =
  | { ok: true }
  | { ok: false; reason: string; code?: number; depth?: number; subject?: string };

/**
 * Mirrors socat: only the configured CA locations, never OpenSSL's default file, directory or
 * (3.x) store; the options are those the installed `openssl` understands (1.1.1 or 3.x).
 */
export function verifyArgs(
  cli: OpensslCli,
  plan: Omit<VerifyPlan, "adapter" | "leafPem">,
  purpose: Purpose | undefined,
): string[] {
  const args = ["verify", ...trustOnlyArgs(cli, plan)];
  if (plan.untrusted) args.push("-untrusted", plan.untrusted);
  if (purpose) args.push("-purpose", purpose);
  if (plan.now) args.push("-attime", String(Math.floor(plan.now.getTime() / 1000)));
  return args;
}

async function opensslVerify(plan: VerifyPlan, purpose?: Purpose): Promise<VerifyOutcome> {
  let r;
  try {
    const cli = await opensslCli(plan.adapter);
    r = await run(plan.adapter, { cmd: "openssl", args: verifyArgs(cli, plan, purpose) }, {
      timeoutMs: VERIFY_TIMEOUT_MS,
      input: plan.leafPem,
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new MissingToolError(
        "openssl is not installed (needed to check [sst] tcert against the CA before the " +
          "transfer); install the openssl package",
      );
    }
    throw e;
  }
  if (r.timedOut) {
    throw new SstError(
      ExitCode.timeout,
      `openssl verify did not finish within ${VERIFY_TIMEOUT_MS / 1000} s; check that the ` +
        "openssl command works on this node",
    );
  }
  return r.code === 0 ? { ok: true } : parseVerifyFailure(`${r.stdout}\n${r.stderr}`, r.code);
}

function parseVerifyFailure(output: string, code: number): VerifyOutcome {
  const lines = output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const i = lines.findIndex((l) => /^error \d+ at \d+ depth lookup:/.test(l));
  if (i < 0) return { ok: false, reason: oneLine(lines.at(-1) ?? `exit status ${code}`) };
  const m = lines[i].match(/^error (\d+) at (\d+) depth lookup: ?(.*)$/)!;
  return {
    ok: false,
    code: Number(m[1]),
    depth: Number(m[2]),
    reason: oneLine(m[3]),
    subject: i > 0 && !lines[i - 1].startsWith("error") ? lines[i - 1] : undefined,
  };
}

const PURPOSE_TEXT: Record<Purpose, string> = {
  sslserver: "TLS server (TLS Web Server Authentication)",
  sslclient: "TLS client (TLS Web Client Authentication)",
};

const ROLE_OF: Record<Purpose, TlsRole> = { sslserver: "joiner", sslclient: "donor" };

interface ChainContext {
  k: Keys;
  certPath: string;
  caFile?: string;
  caPath?: string;
  purpose?: Purpose;
}

function chainFix(o: Extract<VerifyOutcome, { ok: false }>, ctx: ChainContext): string {
  const { tca, tcapath, tcert } = ctx.k;
  const rehash = ctx.caPath
    ? `; if the CA is in ${short(tcapath)}, run 'openssl rehash ${ctx.caPath}'`
    : "";
  switch (o.code) {
    case 2:
    case 20:
      return `point ${tca.setting} at the CA certificate that issued it (a bundle is fine), ` +
        `or, if an intermediate CA issued it, append that intermediate to ${short(tcert)} ` +
        `after the node certificate${rehash}`;
    case 18:
      return "the certificate is self-signed; use one issued by the cluster's CA, or put it " +
        `into ${tca.setting} on every node`;
    case 19:
      return `the chain in ${short(tcert)} ends at a root CA that is not in ${tca.setting}; ` +
        `add that root to ${short(tca)}${rehash}`;
    case 9:
    case 10:
      return "renew that certificate (or fix this node's clock)";
    case 24:
      return "a certificate used as CA is not marked as one (basicConstraints CA:TRUE); reissue it";
    case 26:
      return `it must be valid for ${PURPOSE_TEXT[ctx.purpose ?? "sslserver"]}, as a ` +
        `${ROLE_OF[ctx.purpose ?? "sslserver"]} needs; reissue it with extendedKeyUsage = ` +
        "serverAuth, clientAuth";
    default:
      return "fix the certificate chain; 'openssl verify' with the same files shows the problem";
  }
}

function chainError(o: Extract<VerifyOutcome, { ok: false }>, ctx: ChainContext): ConfigError {
  const cas = [
    ctx.caFile && ref(ctx.k.tca, ctx.caFile),
    ctx.caPath && ref(ctx.k.tcapath, ctx.caPath),
  ]
    .filter(Boolean).join(" and ");
  const where = o.depth === undefined
    ? ""
    : o.depth === 0
    ? " at the node certificate"
    : ` at chain certificate depth ${o.depth}${o.subject ? ` (${o.subject})` : ""}`;
  return new ConfigError(
    `${ref(ctx.k.tcert, ctx.certPath)} does not verify against ${cas}: openssl verify says ` +
      `"${o.reason}"${where}; ${chainFix(o, ctx)}`,
  );
}

/** Warns when the certificate is unusable in the role this node does not play right now. */
async function purposeWarning(
  plan: VerifyPlan,
  purpose: Purpose,
  cert: Key,
  certPath: string,
): Promise<string | null> {
  const o = await opensslVerify(plan, purpose);
  if (o.ok || o.code !== 26) return null;
  return `${ref(cert, certPath)} is not valid for ${PURPOSE_TEXT[purpose]} ("${o.reason}"), ` +
    `so this node will fail as ${ROLE_OF[purpose]}; reissue it with extendedKeyUsage = ` +
    "serverAuth, clientAuth";
}

async function checkChain(
  plan: VerifyPlan,
  ctx: ChainContext,
  warnings: string[],
): Promise<void> {
  const o = await opensslVerify(plan, ctx.purpose);
  if (!o.ok) throw chainError(o, ctx);
  for (const p of ["sslserver", "sslclient"] as const) {
    if (p === ctx.purpose) continue;
    const w = await purposeWarning(plan, p, ctx.k.tcert, ctx.certPath);
    if (w) warnings.push(w);
  }
}

// ---------------------------------------------------------------------------------------------
// Warnings and the entry point

function leafWarnings(leaf: CertificateInfo, cert: Key, certPath: string, now: Date): string[] {
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

function keyModeWarning(src: KeySource): string | null {
  const mode = src.file.mode & 0o777;
  if ((mode & 0o044) === 0) return null;
  const who = (mode & 0o040 ? ["group"] : []).concat(mode & 0o004 ? ["others"] : []);
  return `${ref(src.key, src.path)} holds the private key and is readable by ` +
    `${who.join(" and ")} (mode ${octal(mode)}); chmod 600 it`;
}

function requireConfig(
  files: TlsFiles,
  k: Keys,
): { cert: string; ca?: string; caPath?: string } {
  const cert = given(files.cert);
  if (!cert) {
    throw new ConfigError(
      `${k.tcert.setting} is not set; set ${k.tcert.setting} to the node's PEM certificate ` +
        `(and ${k.tkey.setting} to its key unless the key is in the same file)`,
    );
  }
  const ca = given(files.ca);
  const caPath = given(files.caPath);
  if (!ca && !caPath && !files.caOptional) {
    throw new ConfigError(
      `neither ${k.tca.setting} nor ${k.tcapath.setting} is set; mutual TLS verification ` +
        "needs the CA that issued the nodes' certificates (this SST never runs without " +
        `verification unless ssl-mode=REQUIRED): set ${k.tca.setting} to that CA's PEM file`,
    );
  }
  return { cert, ca, caPath };
}

/**
 * Checks the node's TLS material; throws SstError with an actionable message on the first
 * problem.
 *
 * In order: `tcert` set; `tca` or `tcapath` set; each file exists, is a regular file and is
 * readable; `tcert` holds a PEM certificate; a private key exists (in `tkey`, or in `tcert`
 * when `tkey` is unset), is not passphrase-protected and parses; it matches the first
 * certificate of `tcert`; that certificate is valid at `now`; `tca` holds a certificate and
 * `tcapath` is a hashed directory; and `openssl verify` accepts the chain (intermediates from
 * `tcert`) against exactly the configured CAs for the TLS purpose of `role` (libssl checks the
 * joiner's certificate as `sslserver` and the donor's as `sslclient`).
 *
 * Failures are {@link ConfigError} (exit 22), or {@link SstError} with `ExitCode.access`
 * (exit 13) for files we may not read.
 */
export async function checkTlsFiles(files: TlsFiles, opts?: CheckOptions): Promise<CheckedTls> {
  const k = keysOf(files.names);
  const { cert: certPath, ca: caFile, caPath } = requireConfig(files, k);
  const now = opts?.now ?? new Date();
  const keyPath = given(files.key);
  const certFile = await readInput(k.tcert, certPath);
  const keySrc: KeySource = keyPath
    ? { key: k.tkey, keyKey: k.tkey, path: keyPath, file: await readInput(k.tkey, keyPath) }
    : { key: k.tcert, keyKey: k.tkey, path: certPath, file: certFile };
  const caText = caFile ? await readInput(k.tca, caFile) : undefined;
  if (caPath) await requireCaDir(k, caPath);
  const certs = parseCertificates(k.tcert, certPath, certFile);
  checkKeyMatches(certs, loadKey(keySrc), keySrc, k.tcert, certPath);
  const leaf = describeCertificate(certs[0]);
  checkValidity(leaf, k.tcert, certPath, now);
  const warnings: string[] = [];
  if (caFile && caText) checkCaFile(k.tca, caFile, caText);
  if (caPath) await checkCaDir(k, caPath, caFile !== undefined, warnings);
  const plan: VerifyPlan = {
    adapter: opts?.adapter ?? denoAdapter,
    caFile,
    caPath,
    leafPem: certs[0].toString(),
    untrusted: certs.length > 1 ? certPath : undefined,
    now: opts?.now,
  };
  const purpose = opts?.role ? PURPOSE[opts.role] : undefined;
  // Without a CA (ssl-mode=REQUIRED only) there is nothing to verify the chain against.
  if (caFile || caPath) await checkChain(plan, { k, certPath, caFile, caPath, purpose }, warnings);
  warnings.push(...leafWarnings(leaf, k.tcert, certPath, now));
  const modeWarning = keyModeWarning(keySrc);
  if (modeWarning) warnings.push(modeWarning);
  return {
    caFile,
    caPath,
    certFile: certPath,
    keyFile: keySrc.path,
    leaf,
    warnings,
    names: namesOf(k),
  };
}

// ---------------------------------------------------------------------------------------------
// socat's TLS errors
