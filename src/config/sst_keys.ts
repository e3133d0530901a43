/**
 * The one list of option-file keys this program reads for an SST (the `[sst]` group, and the
 * server keys that the stock scripts also accept there). `settings.ts` and `wire_options.ts`
 * read every key through {@link sstValue} / {@link sstOrigin}, so a key can only be read if it
 * is in {@link SST_KEYS}; the man page (`man/wsrep_sst_rsync_tunnel.1`) documents exactly these
 * keys with these defaults, which `test/unit/sst_keys_doc_test.ts` enforces.
 *
 * @module
 */
import type { OptionLookup, OptionSource } from "./option_lookup.ts";

/**
 * Where a key is looked up: `sst` only in `[sst]`; `--mysqld|sst` first in the server's groups
 * (`[mysqld]`, `[server]`, `[mariadb]`, `[galera]`, …), then in `[sst]` (as the stock scripts'
 * `parse_cnf --mysqld|sst`).
 */
export type SstKeyGroups = "sst" | "--mysqld|sst";

/** Which end of an SST uses a key. */
export type SstKeyRole = "both" | "donor" | "joiner";

/** One key the program reads. */
export interface SstKeyInfo {
  /** The key as written in an option file (`-` and `_` are interchangeable). */
  readonly name: string;
  readonly groups: SstKeyGroups;
  readonly role: SstKeyRole;
  /** The default, as documented (the man page shows exactly this text). */
  readonly default: string;
  /** One sentence for help texts. */
  readonly meaning: string;
}

/** Every key the program reads, in the order the man page lists them. */
export const SST_KEYS = [
  {
    name: "tca",
    groups: "sst",
    role: "both",
    default: "none",
    meaning: "PEM file of the CA certificate(s) trusted for peers (tca or tcapath is required); " +
      "a directory, or a value ending in /, is used as tcapath",
  },
  {
    name: "tcapath",
    groups: "sst",
    role: "both",
    default: "none",
    meaning: "directory of CA certificates prepared with 'openssl rehash'",
  },
  {
    name: "tcert",
    groups: "sst",
    role: "both",
    default: "none",
    meaning: "this node's PEM certificate (intermediates after it; may also hold the key)",
  },
  {
    name: "tkey",
    groups: "sst",
    role: "both",
    default: "the key in tcert",
    meaning: "this node's private key (unencrypted PEM, mode 0600)",
  },
  {
    name: "ssl-ca",
    groups: "--mysqld|sst",
    role: "both",
    default: "none",
    meaning: "used as tca when no t* key is set",
  },
  {
    name: "ssl-capath",
    groups: "--mysqld|sst",
    role: "both",
    default: "none",
    meaning: "used as tcapath when no t* key is set",
  },
  {
    name: "ssl-cert",
    groups: "--mysqld|sst",
    role: "both",
    default: "none",
    meaning: "used as tcert when no t* key is set",
  },
  {
    name: "ssl-key",
    groups: "--mysqld|sst",
    role: "both",
    default: "none",
    meaning: "used as tkey when no t* key is set",
  },
  {
    name: "ssl-server-ca",
    groups: "--mysqld|sst",
    role: "joiner",
    default: "tca or ssl-ca",
    meaning: "replaces tca/ssl-ca on the joiner (TLS server)",
  },
  {
    name: "ssl-server-capath",
    groups: "--mysqld|sst",
    role: "joiner",
    default: "tcapath or ssl-capath",
    meaning: "replaces tcapath/ssl-capath on the joiner (TLS server)",
  },
  {
    name: "ssl-server-cert",
    groups: "--mysqld|sst",
    role: "joiner",
    default: "tcert or ssl-cert",
    meaning: "replaces tcert/ssl-cert on the joiner (TLS server)",
  },
  {
    name: "ssl-server-key",
    groups: "--mysqld|sst",
    role: "joiner",
    default: "tkey or ssl-key",
    meaning: "replaces tkey/ssl-key on the joiner (TLS server)",
  },
  {
    name: "ssl-client-ca",
    groups: "--mysqld|sst",
    role: "donor",
    default: "tca or ssl-ca",
    meaning: "replaces tca/ssl-ca on the donor (TLS client)",
  },
  {
    name: "ssl-client-capath",
    groups: "--mysqld|sst",
    role: "donor",
    default: "tcapath or ssl-capath",
    meaning: "replaces tcapath/ssl-capath on the donor (TLS client)",
  },
  {
    name: "ssl-client-cert",
    groups: "--mysqld|sst",
    role: "donor",
    default: "tcert or ssl-cert",
    meaning: "replaces tcert/ssl-cert on the donor (TLS client)",
  },
  {
    name: "ssl-client-key",
    groups: "--mysqld|sst",
    role: "donor",
    default: "tkey or ssl-key",
    meaning: "replaces tkey/ssl-key on the donor (TLS client)",
  },
  {
    name: "ssl-mode",
    groups: "--mysqld|sst",
    role: "both",
    default: "VERIFY_IDENTITY",
    meaning: "VERIFY_IDENTITY (chain and name), VERIFY_CA (chain only), REQUIRED (no " +
      "verification; WARNING); DISABLED is refused (case-insensitive)",
  },
  {
    name: "sockopt",
    groups: "sst",
    role: "both",
    default: "none",
    meaning: "extra comma-separated socat OpenSSL options (validated; verify=0 logs a WARNING)",
  },
  {
    name: "donor-names",
    groups: "sst",
    role: "joiner",
    default: "none (any donor certificate of the CA)",
    meaning: "comma-separated DNS names or IP addresses: a donor connection is accepted only " +
      "if its certificate is issued for one of them (subjectAltName DNS/IP; CN without SAN)",
  },
  {
    name: "backup-threads",
    groups: "--mysqld|sst",
    role: "donor",
    default: "the CPU count",
    meaning:
      "parallel rsync streams on the donor (one at a time when bwlimit is set); a schema directory with most of the data is split over them",
  },
  {
    name: "sst-max-binlogs",
    groups: "--mysqld|sst",
    role: "donor",
    default: "1",
    meaning: "binary logs shipped: 0 none, -1 all",
  },
  {
    name: "tmpdir",
    groups: "--mysqld|sst",
    role: "both",
    default: "$TMPDIR or /tmp",
    meaning: "where the private 0700 work directory is made (first entry of a : list)",
  },
  {
    name: "tunnel-connect-timeout",
    groups: "sst",
    role: "donor",
    default: "30",
    meaning: "seconds to connect to the joiner",
  },
  {
    name: "tunnel-initial-timeout",
    groups: "sst",
    role: "joiner",
    default: "900",
    meaning: "seconds from ready until the donor starts sending",
  },
  {
    name: "tunnel-idle-timeout",
    groups: "sst",
    role: "both",
    default: "300",
    meaning: "seconds without data before giving up",
  },
  {
    name: "tunnel-flush-timeout",
    groups: "sst",
    role: "donor",
    default: "600",
    meaning: "seconds for mariadbd to flush and lock tables",
  },
  {
    name: "tunnel-deadline",
    groups: "sst",
    role: "both",
    default: "0 (off)",
    meaning: "seconds for the whole SST",
  },
  {
    name: "compress",
    groups: "sst",
    role: "donor",
    default: "off",
    meaning: "zstd or lz4 compression inside the tunnel",
  },
  {
    name: "compress-level",
    groups: "sst",
    role: "donor",
    default: "rsync's",
    meaning: "zstd level 1-19",
  },
  {
    name: "precopy",
    groups: "sst",
    role: "donor",
    default: "auto",
    meaning: "copy the data set once while the server takes writes, then lock only for a delta " +
      "pass: on, off, or auto (on from 256 MiB of data, off when every part clones under the lock)",
  },
  {
    name: "delta",
    groups: "sst",
    role: "donor",
    default: "auto",
    meaning: "send only the blocks that differ from the joiner's existing files (delta transfer) " +
      "instead of whole files: on, off, or auto (on when the joiner holds an earlier copy, or " +
      "when run as wsrep_sst_rsync_tunnel_wan)",
  },
  {
    name: "clone",
    groups: "sst",
    role: "donor",
    default: "auto",
    meaning: "clone the frozen files under the lock (copy-on-write: XFS reflink, btrfs) and " +
      "send from the clones once the server writes again: on (refuse an SST where a part " +
      "cannot clone), off, or auto (where a probe clone works)",
  },
  {
    name: "clone-floor",
    groups: "sst",
    role: "donor",
    default: "1G",
    meaning: "the least free space clones must leave on each file system that holds them (the " +
      "larger of this and 5 % of the file system), in bytes or with a K/M/G unit",
  },
  {
    name: "bwlimit",
    groups: "sst",
    role: "donor",
    default: "0 (off)",
    meaning:
      "cap of the whole transfer in KiB/s, or with a K/M/G unit; with a cap, one rsync at a time gets all of it",
  },
] as const satisfies readonly SstKeyInfo[];

/** The name of a key in {@link SST_KEYS}. */
export type SstKeyName = typeof SST_KEYS[number]["name"];

/** The table entry of `name`. */
export function sstKey(name: SstKeyName): SstKeyInfo {
  return SST_KEYS.find((k) => k.name === name)!;
}

/** The value of a key from its groups (undefined when unset or empty). */
export function sstValue(opts: OptionLookup, name: SstKeyName): string | undefined {
  return opts.get(sstKey(name).groups, name);
}

/** Whether a key appears at all (with or without a value). */
export function sstHas(opts: OptionLookup, name: SstKeyName): boolean {
  return opts.has(sstKey(name).groups, name);
}

/** Where a key's value came from, with the key as written (see {@link OptionLookup.source}). */
export function sstSource(opts: OptionLookup, name: SstKeyName): OptionSource | undefined {
  return opts.source(sstKey(name).groups, name);
}

/** Where a key's value came from (`file:line [group]`), for messages. */
export function sstOrigin(opts: OptionLookup, name: SstKeyName): string | undefined {
  return opts.origin(sstKey(name).groups, name);
}
