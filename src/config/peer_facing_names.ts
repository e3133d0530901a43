/**
 * The names and the port a donor may use to reach this node as a joiner, as mariadbd 10.11
 * builds the SST address from its options: `wsrep_sst_receive_address` (unless `AUTO`), else
 * the host of `wsrep_node_address` with port 4444; `bind_address` and the host name are the
 * other names a peer may know this node by. Used by `check` (certificate names, the port) and
 * `check --listen` (what to bind).
 *
 * @module
 */
import { DEFAULT_PORT, type Host, parseEndpoint } from "../core/address.ts";
import { SstError } from "../core/errors.ts";
import type { OptionLookup } from "./option_lookup.ts";

/** Which option (or fact) a name comes from. */
export type NameSource = "wsrep_sst_receive_address" | "wsrep_node_address" | "bind_address";

/** One name a peer may use for this node. */
export interface PeerFacingName {
  source: NameSource;
  /** `file:line [group]` of the option. */
  where: string;
  host: Host;
  port: number;
  /** True when donors are told this address (the SST's `--address`). */
  advertised: boolean;
}

/** Unspecified addresses: bind to all, name nothing. */
const ANY: ReadonlySet<string> = new Set(["0.0.0.0", "::", "*", ""]);

function named(
  opts: OptionLookup,
  source: NameSource,
  advertised: boolean,
  portFromValue: boolean,
): PeerFacingName | undefined {
  const raw = opts.get("--mysqld", source);
  if (raw === undefined || ANY.has(raw) || raw.toUpperCase() === "AUTO") return undefined;
  // wsrep_node_address may list a Galera port (not the SST's); bind_address a list (10.11).
  const first = raw.split(",")[0].trim();
  try {
    const ep = parseEndpoint(first);
    return {
      source,
      where: opts.origin("--mysqld", source) ?? source,
      host: ep.host,
      port: portFromValue ? ep.port : DEFAULT_PORT,
      advertised,
    };
  } catch (e) {
    if (e instanceof SstError) return undefined; // the SST itself reports a bad address
    throw e;
  }
}

/**
 * The names a peer may use for this node, the advertised one first (`wsrep_sst_receive_address`
 * or else `wsrep_node_address`), then `bind_address`.
 */
export function peerFacingNames(opts: OptionLookup): PeerFacingName[] {
  const receive = named(opts, "wsrep_sst_receive_address", true, true);
  const node = named(opts, "wsrep_node_address", receive === undefined, false);
  const bind = named(opts, "bind_address", false, false);
  return [receive, node, bind].filter((n): n is PeerFacingName => n !== undefined);
}

/** The port a joiner listens on: `wsrep_sst_receive_address`'s, else 4444. */
export function joinerPort(opts: OptionLookup): number {
  return peerFacingNames(opts).find((n) => n.source === "wsrep_sst_receive_address")?.port ??
    DEFAULT_PORT;
}
