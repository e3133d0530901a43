/**
 * SST addresses (docs/sst-protocol.md §1.5): what mariadbd gives the joiner (`host[:port]`), what the joiner
 * advertises in its `ready` line
 * (`<secret>@<host>:<port>/<module>/<version>[/mariadb-X.Y.Z][/copy-<MiB>|/nocopy]`), and what
 * the donor receives back (the same without `<secret>@`, the secret in
 * `WSREP_SST_OPT_REMOTE_AUTH`).
 *
 * @module
 */
import { ConfigError, ExitCode, SstError } from "./errors.ts";
import { isIpv4, isIpv6 } from "./ip.ts";
import { parseVersionToken, type ServerVersion, versionToken } from "./server_version.ts";

/** Port used when the address names none (as the stock scripts do). */
export const DEFAULT_PORT = 4444;
/** The rsync module the joiner exposes; also the first path component of the address. */
export const MODULE = "rsync_tunnel_sst";
/** Version of our donor⇄joiner protocol, carried as the second path component. */
export const PROTOCOL_VERSION = "1";

/** A host as written: a DNS name, an IPv4 literal or an IPv6 literal (without brackets). */
export type Host =
  | { kind: "name"; name: string }
  | { kind: "ipv4"; address: string }
  | { kind: "ipv6"; address: string };

/** A parsed `host[:port][/path]`. */
export interface Endpoint {
  host: Host;
  port: number;
  /** Path components after the port (may be empty). */
  path: string[];
}

const NAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const PATH_PART_RE = /^[A-Za-z0-9._-]*$/;

/** Parses a host literal; IPv6 must be bracketed when `bracketed` is true. */
export function parseHost(raw: string): Host {
  if (raw.startsWith("[") && raw.endsWith("]")) {
    const inner = raw.slice(1, -1);
    if (isIpv6(inner)) return { kind: "ipv6", address: inner };
    throw new ConfigError(`SST address host '${raw}' is not a valid IPv6 literal`);
  }
  if (isIpv4(raw)) return { kind: "ipv4", address: raw };
  if (isIpv6(raw)) return { kind: "ipv6", address: raw };
  if (NAME_RE.test(raw) && !/^\d+$/.test(raw.replace(/\./g, ""))) {
    return { kind: "name", name: raw.replace(/\.$/, "") };
  }
  throw new ConfigError(
    `SST address host '${printable(raw)}' is not a host name, IPv4 or [IPv6] address; ` +
      "check wsrep_sst_receive_address / wsrep_node_address",
  );
}

/** The host as text without brackets (for resolvers and certificate checks). */
export function hostText(h: Host): string {
  switch (h.kind) {
    case "name":
      return h.name;
    case "ipv4":
    case "ipv6":
      return h.address;
  }
}

/** The host as it appears in an address (IPv6 bracketed). */
export function hostForAddress(h: Host): string {
  return h.kind === "ipv6" ? `[${h.address}]` : hostText(h);
}

function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

function parsePort(raw: string, whole: string): number {
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    throw new ConfigError(`SST address '${printable(whole)}' has an invalid port '${raw}'`);
  }
  return Number(raw);
}

/** Parses `host[:port][/path…]`. */
export function parseEndpoint(raw: string): Endpoint {
  // deno-lint-ignore no-control-regex -- rejecting control characters is the point
  if (/[\x00-\x20\x7f]/.test(raw)) {
    throw new ConfigError(`SST address '${printable(raw)}' contains spaces or control characters`);
  }
  const slash = raw.startsWith("[") ? raw.indexOf("/", raw.indexOf("]")) : raw.indexOf("/");
  const hostPort = slash < 0 ? raw : raw.slice(0, slash);
  const path = slash < 0 ? [] : raw.slice(slash + 1).split("/");
  if (!path.every((p) => PATH_PART_RE.test(p))) {
    throw new ConfigError(`SST address '${printable(raw)}' has characters outside [A-Za-z0-9._-]`);
  }
  let hostRaw = hostPort;
  let port = DEFAULT_PORT;
  const m = hostPort.match(/^(\[[^\]]*\]|[^:]+)(?::([^:]*))?$/);
  if (m) {
    hostRaw = m[1];
    if (m[2] !== undefined) port = parsePort(m[2], raw);
  } else if (!hostPort.includes("[")) {
    hostRaw = hostPort; // bare IPv6 without port
  }
  return { host: parseHost(hostRaw), port, path };
}

/**
 * What the joiner holds where the SST writes, as it tells the donor: an earlier copy of a data
 * set (`MiB` of it, rounded down), or none (an empty or freshly installed datadir). A joiner
 * that says this also serves its free space to the donor (see transfer/joiner_space.ts).
 */
export type JoinerCopy = { kind: "copy"; mib: number } | { kind: "none" };

const COPY_RE = /^copy-(\d{1,9})$/;
const NO_COPY = "nocopy";

/** The path component for `c` (`copy-1234` or `nocopy`). */
export function copyToken(c: JoinerCopy): string {
  switch (c.kind) {
    case "copy":
      return `copy-${Math.max(0, Math.min(999_999_999, Math.floor(c.mib)))}`;
    case "none":
      return NO_COPY;
  }
}

/**
 * Formats the address the joiner advertises in `ready` (the part after `@`); with the joiner's
 * server version known, as a third path component (`…/rsync_tunnel_sst/1/mariadb-10.11.19`),
 * then what it holds (`…/copy-180` or `…/nocopy`). Donors of ours that predate a component
 * ignore it.
 */
export function formatReadyAddress(
  host: Host,
  port: number,
  server: ServerVersion | null = null,
  copy: JoinerCopy | null = null,
): string {
  const version = server ? `/${versionToken(server)}` : "";
  const held = copy ? `/${copyToken(copy)}` : "";
  return `${hostForAddress(host)}:${port}/${MODULE}/${PROTOCOL_VERSION}${version}${held}`;
}

/**
 * The joiner's server version from the donor's `--address` (the first component after the
 * protocol version that is one), or null when the joiner did not say it (its version unknown
 * to it, or an older wsrep_sst_rsync_tunnel).
 */
export function joinerServerVersion(ep: Endpoint): ServerVersion | null {
  for (const part of ep.path.slice(2)) {
    const v = parseVersionToken(part);
    if (v) return v;
  }
  return null;
}

/**
 * What the joiner said it holds (`copy-<MiB>` or `nocopy` after the protocol version), or null
 * when it said nothing (an older wsrep_sst_rsync_tunnel): the donor then behaves as before.
 */
export function joinerCopy(ep: Endpoint): JoinerCopy | null {
  for (const part of ep.path.slice(2)) {
    if (part === NO_COPY) return { kind: "none" };
    const m = part.match(COPY_RE);
    if (m) return { kind: "copy", mib: Number(m[1]) };
  }
  return null;
}

/** Checks that the donor's `--address` points at a joiner of ours speaking our version. */
export function checkDonorPath(ep: Endpoint, raw: string): void {
  if (ep.path[0] !== MODULE) {
    throw new SstError(
      ExitCode.protocol,
      `the joiner advertised '${printable(raw)}', not a ${MODULE} address: the joiner does not ` +
        "run wsrep_sst_rsync_tunnel; set wsrep_sst_method=rsync_tunnel on the joiner",
    );
  }
  const version = ep.path[1] ?? "";
  if (version !== PROTOCOL_VERSION) {
    throw new SstError(
      ExitCode.protocol,
      `the joiner speaks ${MODULE} protocol '${version}', this donor speaks ` +
        `'${PROTOCOL_VERSION}'; install the same wsrep_sst_rsync_tunnel version on every node`,
    );
  }
}

/**
 * Extracts the per-SST secret from `WSREP_SST_OPT_REMOTE_AUTH` (`<secret>` or the stock
 * `<name>:<secret>` form). Fails closed when there is none.
 */
export function secretFromRemoteAuth(raw: string | undefined): string {
  const value = (raw ?? "").trim();
  const secret = value.slice(value.lastIndexOf(":") + 1);
  if (!/^(?:[A-Za-z0-9._*:-]{1,255}:)?[0-9a-f]{32,128}$/.test(value)) {
    throw new SstError(
      ExitCode.protocol,
      "the joiner's SST request carried no valid secret (WSREP_SST_OPT_REMOTE_AUTH); the " +
        "joiner must run wsrep_sst_rsync_tunnel of the same version",
    );
  }
  return secret;
}
