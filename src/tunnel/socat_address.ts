/**
 * Builds socat address strings from validated values. socat parses its addresses itself
 * (`,` separates options, `:` parameters, `!!` dual addresses, quotes and backslashes are
 * special), so every value we put into one is checked against a strict character set, and
 * operator-supplied `sockopt` tokens are validated one by one.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import { type Host, hostText } from "../core/address.ts";
import type { SockoptToken } from "../config/sockopt.ts";

/**
 * socat's global transfer-buffer option for the data tunnels: 128 KiB per read/write instead
 * of socat's 8 KiB default. One TLS pipe between two network namespaces of the 2-core bench
 * machine moved ~80–105 MiB/s with 8 KiB and ~250 MiB/s with 128 KiB (64 KiB: ~210, 256 KiB:
 * no better); see the README's performance section.
 */
export const SOCAT_TRANSFER_BUFFER: readonly string[] = ["-b", "131072"];

const SAFE_VALUE_RE = /^[A-Za-z0-9._/@+~%-]+$/;

/** Throws unless `value` can be placed into a socat address unquoted. */
export function socatSafe(what: string, value: string): string {
  if (!SAFE_VALUE_RE.test(value)) {
    throw new ConfigError(
      `${what}='${JSON.stringify(value).slice(1, -1)}' contains characters socat would ` +
        "interpret (space , : ! ' \" \\ ( ) [ ] { } or control characters); use a path made of " +
        "letters, digits and . _ / @ + ~ % -",
    );
  }
  return value;
}

const IPV6_LITERAL_RE = /^[0-9A-Fa-f:.]+$/;

/** A host for a socat address or option: names/IPv4 as is, IPv6 bracketed (socat nests `[]`). */
export function socatHost(what: string, h: Host): string {
  if (h.kind !== "ipv6") return socatSafe(what, hostText(h));
  if (!IPV6_LITERAL_RE.test(h.address)) socatSafe(what, h.address);
  return `[${h.address}]`;
}

/** A name for `commonname=`: a DNS name, IPv4 or a bare IPv6 literal (socat compares it). */
export function socatPeerName(name: string): string {
  if (name.includes(":") && IPV6_LITERAL_RE.test(name)) return name;
  return socatSafe("joiner certificate name", name);
}

/** True if the tokens switch certificate verification off (documented for debugging only). */
export function disablesVerification(tokens: readonly SockoptToken[]): boolean {
  return tokens.some((t) =>
    canonical(t.name) === "verify" && /^(0|no|false|off)$/i.test(t.value ?? "")
  );
}

/** The TLS material as socat options. */
export interface TlsOptions {
  certFile: string;
  keyFile: string;
  caFile?: string;
  caPath?: string;
  /** false: `verify=0`, peers are not verified (`ssl-mode=REQUIRED`); default true. */
  verify?: boolean;
  /** How messages name the settings the paths came from (default `[sst] tcert` etc.). */
  names?: Partial<Record<"ca" | "caPath" | "cert" | "key", { setting: string; where?: string }>>;
}

function tlsOptions(tls: TlsOptions): string[] {
  const name = (f: "ca" | "caPath" | "cert" | "key", legacy: string) => {
    const n = tls.names?.[f];
    return n?.where ?? n?.setting ?? `[sst] ${legacy}`;
  };
  const out = [
    `cert=${socatSafe(name("cert", "tcert"), tls.certFile)}`,
    `key=${socatSafe(name("key", "tkey"), tls.keyFile)}`,
  ];
  if (tls.caFile) out.push(`cafile=${socatSafe(name("ca", "tca"), tls.caFile)}`);
  if (tls.caPath) out.push(`capath=${socatSafe(name("caPath", "tcapath"), tls.caPath)}`);
  out.push(tls.verify === false ? "verify=0" : "verify=1");
  return out;
}

/** socat's aliases of the options we set ourselves, mapped to the names we use. */
const ALIASES: Record<string, string> = {
  "openssl-verify": "verify",
  "cn": "commonname",
  "openssl-commonname": "commonname",
  "certificate": "cert",
  "openssl-certificate": "cert",
  "openssl-key": "key",
  "openssl-cafile": "cafile",
  "openssl-capath": "capath",
  "openssl-no-sni": "no-sni",
  "nosni": "no-sni",
  "tcp-nodelay": "nodelay",
};

/**
 * TCP_NODELAY on both ends. Without it, the short TLS records of rsync's start-up and goodbye
 * wait for the peer's delayed ACK (40 ms on Linux) several times per connection: measured over
 * loopback, one small rsync through the tunnel took 0.20–0.28 s without, 0.11–0.13 s with (a
 * plain rsync daemon: 0.11 s); a pass opens one connection per job.
 */
const NODELAY = "nodelay";

function canonical(name: string): string {
  return ALIASES[name] ?? name;
}

/**
 * Our options followed by the operator's `sockopt`. socat refuses an option given twice, so
 * an option the operator sets replaces ours (e.g. `verify=0` for debugging).
 */
function withSockopt(ours: readonly string[], tokens: readonly SockoptToken[]): string[] {
  const theirs = new Set(tokens.map((t) => canonical(t.name)));
  const kept = ours.filter((o) => !theirs.has(canonical(o.split("=")[0])));
  return [...kept, ...tokens.map((t) => (t.value === null ? t.name : `${t.name}=${t.value}`))];
}

/** Parameters of the joiner's TLS listener. */
export interface ListenSpec {
  port: number;
  /** IP to bind to; all interfaces when absent. */
  bind?: Host;
  ipv6: boolean;
  maxChildren: number;
  tls: TlsOptions;
  sockopt: readonly SockoptToken[];
  /** The socat version found (`1.7.4.1`); selects a workaround for 1.7.4.0 and 1.7.4.1. */
  socatVersion: string;
}

/**
 * socat 1.7.4.0 and 1.7.4.1 (Debian 11) crash (SIGSEGV in the forked child) when a listener
 * without `commonname=` meets a client certificate with an IPv6 subjectAltName; with an empty
 * `commonname=` they survive, but still fail on an IPv6 entry listed before every DNS entry.
 */
export function listenerNeedsEmptyCommonName(socatVersion: string): boolean {
  return /^1\.7\.4\.[01]$/.test(socatVersion);
}

/** `OPENSSL-LISTEN:…` for the joiner: mutual TLS, one forked child per connection. */
export function listenAddress(spec: ListenSpec): string {
  const opts = ["reuseaddr", "fork", `max-children=${spec.maxChildren}`, NODELAY];
  opts.push(spec.ipv6 ? "pf=ip6" : "pf=ip4");
  if (spec.bind) opts.push(`bind=${socatHost("bind address", spec.bind)}`);
  opts.push(...tlsOptions(spec.tls));
  // The joiner verifies the donor's chain, not its name (the per-SST secret binds the donor).
  if (listenerNeedsEmptyCommonName(spec.socatVersion)) opts.push("commonname=");
  return `OPENSSL-LISTEN:${spec.port},${withSockopt(opts, spec.sockopt).join(",")}`;
}

/**
 * `EXEC:<command>,end-close` for a listener's per-connection program. `end-close` keeps socat
 * from registering the program as the connection's child. socat 1.7.4 (1.7.4.1 of Debian 11,
 * 1.7.4.4 of Debian 12) treats a registered child that exits non-zero as an error, and an error
 * exits at once, even from inside socat's own TLS teardown. That exit tears the connection down
 * a second time and frees the TLS state twice: glibc aborts socat ("double free detected"), or
 * socat spins on a freed lock at 100 % CPU until it is killed. The donor's certificate probe
 * sets this up on every SST: its rsync daemon exits 255 when the probe hangs up. With
 * `end-close` socat just closes its end; the program still sees end-of-file and exits, and
 * socat reaps it quietly (README, socat 1.7.4.4).
 */
export function listenerExec(command: string): string {
  return `EXEC:${command},end-close`;
}

/** The listener's `EXEC:` address that runs one rsync daemon over the connection's stdio. */
export function rsyncServerExec(rsync: string, configFile: string): string {
  return listenerExec(
    `${socatSafe("rsync path", rsync)} --server --daemon ` +
      `--config=${socatSafe("rsync daemon config path", configFile)} .`,
  );
}

/** Parameters of one donor connection. */
export interface ConnectSpec {
  host: Host;
  port: number;
  /**
   * Name the joiner's certificate must carry (SAN or CN); an IP literal checks SAN IP. null:
   * the chain is verified but not the name (`ssl-mode=VERIFY_CA`: socat's empty `commonname=`).
   */
  peerName: string | null;
  connectTimeoutSec: number;
  tls: TlsOptions;
  sockopt: readonly SockoptToken[];
}

/** `OPENSSL:<host>:<port>,…` for the donor: verifies chain and (unless VERIFY_CA) name, no SNI. */
export function connectAddress(spec: ConnectSpec): string {
  const target = socatHost("joiner host", spec.host);
  const opts = [
    ...tlsOptions(spec.tls),
    `commonname=${spec.peerName === null ? "" : socatPeerName(spec.peerName)}`,
    "no-sni=1",
    `connect-timeout=${spec.connectTimeoutSec}`,
    NODELAY,
    spec.host.kind === "ipv6" ? "pf=ip6" : spec.host.kind === "ipv4" ? "pf=ip4" : "",
  ].filter((o) => o !== "");
  return `OPENSSL:${target}:${spec.port},${withSockopt(opts, spec.sockopt).join(",")}`;
}
