/**
 * The TLS settings of one SST end, resolved from the stock scripts' vocabulary (MariaDB
 * 10.11.19 `wsrep_sst_common` `check_server_ssl_config` and `wsrep_sst_rsync`; docs/sst-protocol.md §7.1):
 *
 * 1. the legacy `[sst]` keys `tca`, `tcapath`, `tcert`, `tkey`, as a set: if any of them is set,
 *    all four come from them and the server's `ssl-*` keys are ignored (logged once);
 * 2. otherwise `ssl-ca`, `ssl-capath`, `ssl-cert`, `ssl-key` from the server groups, then `[sst]`;
 * 3. then, key by key, the role's own keys override: `ssl-server-*` on the joiner (the TLS
 *    server), `ssl-client-*` on the donor (the TLS client), from the server groups, then `[sst]`;
 * 4. a CA value ending in `/` or naming a directory is used as the CA path (replacing it);
 * 5. `ssl-mode` (server groups, then `[sst]`; case-insensitive): `VERIFY_IDENTITY`,
 *    `VERIFY_CA`, `REQUIRED`; `DISABLED` and anything else are refused (exit 22).
 *
 * One deviation from stock, on purpose: without `ssl-mode` the mode is `VERIFY_IDENTITY` (chain
 * and name verified), where stock derives `VERIFY_CA` from a CA, or `REQUIRED` from a
 * certificate and key alone. A weaker mode is only used when it is asked for.
 *
 * Every value carries where it came from (file, line, group and key as written), so that each
 * message about it can say so.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import type { OptionLookup, OptionSource } from "./option_lookup.ts";
import { type SstKeyName, sstSource, sstValue } from "./sst_keys.ts";

/** The verification levels this method supports (`ssl-mode`). */
export type SslMode = "VERIFY_IDENTITY" | "VERIFY_CA" | "REQUIRED";

/** The mode when `ssl-mode` is not set: fail closed. */
export const DEFAULT_SSL_MODE: SslMode = "VERIFY_IDENTITY";

/** The four TLS file settings. */
export type TlsField = "ca" | "caPath" | "cert" | "key";

/** How a TLS setting is named in messages. */
export interface SettingName {
  /** The group and key to name in advice, e.g. `[mysqld] loose-ssl-cert` or `[sst] tcert`. */
  setting: string;
  /** File, line, group and key as written, when the value came from an option file. */
  where?: string;
}

/** Raw TLS file settings, the names they came from, and the verification mode. */
export interface TlsSettings {
  ca?: string;
  caPath?: string;
  cert?: string;
  key?: string;
  /** Where each value came from (or, when unset, the key to set). */
  names: Record<TlsField, SettingName>;
  mode: SslMode;
  /** Where `ssl-mode` came from; undefined when the default applies. */
  modeSource?: OptionSource;
  /** Facts worth one INFO line each (ignored keys, a CA directory used as CA path). */
  notes: string[];
}

/** The end of the SST whose settings are resolved: the joiner is the TLS server. */
export type TlsRole = "joiner" | "donor";

interface Found {
  value?: string;
  name: SettingName;
}

const LEGACY: Record<TlsField, SstKeyName> = {
  ca: "tca",
  caPath: "tcapath",
  cert: "tcert",
  key: "tkey",
};
const GENERAL: Record<TlsField, SstKeyName> = {
  ca: "ssl-ca",
  caPath: "ssl-capath",
  cert: "ssl-cert",
  key: "ssl-key",
};
const ROLE: Record<TlsRole, Record<TlsField, SstKeyName>> = {
  joiner: {
    ca: "ssl-server-ca",
    caPath: "ssl-server-capath",
    cert: "ssl-server-cert",
    key: "ssl-server-key",
  },
  donor: {
    ca: "ssl-client-ca",
    caPath: "ssl-client-capath",
    cert: "ssl-client-cert",
    key: "ssl-client-key",
  },
};
const FIELDS: readonly TlsField[] = ["ca", "caPath", "cert", "key"];

function lookup(opts: OptionLookup, key: SstKeyName, unset: string): Found {
  const value = sstValue(opts, key);
  const src = value === undefined ? undefined : sstSource(opts, key);
  return { value, name: src ? { setting: src.setting, where: src.where } : { setting: unset } };
}

/** The values of one key set; an unset value is named by the legacy key (what to set). */
function setOf(opts: OptionLookup, keys: Record<TlsField, SstKeyName>): Record<TlsField, Found> {
  const out = {} as Record<TlsField, Found>;
  for (const f of FIELDS) out[f] = lookup(opts, keys[f], `[sst] ${LEGACY[f]}`);
  return out;
}

function anySet(set: Record<TlsField, Found>): boolean {
  return FIELDS.some((f) => set[f].value !== undefined);
}

/** `where` when known, else the setting: for messages. */
export function describeSetting(n: SettingName): string {
  return n.where ?? n.setting;
}

/** Whether `path` names a directory (follows links); false when it cannot be stat'ed. */
function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Resolves the TLS settings of `role` from the option files (see the module comment for the
 * precedence). `isDir` decides whether a CA value names a directory (tests may replace it).
 * Throws {@link ConfigError} for `ssl-mode=DISABLED` or an unknown `ssl-mode`.
 */
export function tlsFrom(
  opts: OptionLookup,
  role: TlsRole,
  isDir: (path: string) => boolean = isDirectory,
): TlsSettings {
  const notes: string[] = [];
  const legacy = setOf(opts, LEGACY);
  const general = setOf(opts, GENERAL);
  const chosen = anySet(legacy) ? legacy : general;
  if (chosen === legacy && anySet(general)) {
    const ignored = FIELDS.filter((f) =>
      general[f].value !== undefined && general[f].value !== legacy[f].value
    );
    if (ignored.length > 0) {
      notes.push(
        `${ignored.map((f) => describeSetting(general[f].name)).join(", ")} ignored: the [sst] ` +
          "tca/tcapath/tcert/tkey keys are set and replace all ssl-* keys (as in the stock " +
          "scripts); the role keys ssl-server-*/ssl-client-* still apply",
      );
    }
  }
  const roleKeys = setOf(opts, ROLE[role]);
  const out = {} as Record<TlsField, Found>;
  for (const f of FIELDS) out[f] = roleKeys[f].value !== undefined ? roleKeys[f] : chosen[f];

  if (out.ca.value !== undefined && (out.ca.value.endsWith("/") || isDir(out.ca.value))) {
    if (out.caPath.value !== undefined && out.caPath.value !== out.ca.value) {
      notes.push(
        `${describeSetting(out.caPath.name)}=${out.caPath.value} ignored: ` +
          `${describeSetting(out.ca.name)} names a directory and is used as the CA path instead`,
      );
    }
    notes.push(
      `${describeSetting(out.ca.name)}=${out.ca.value} names a directory: used as the CA path ` +
        "(hashed with 'openssl rehash')",
    );
    out.caPath = out.ca;
    out.ca = { name: out.ca.name };
  }

  const { mode, modeSource } = sslModeFrom(opts);
  return {
    ca: out.ca.value,
    caPath: out.caPath.value,
    cert: out.cert.value,
    key: out.key.value,
    names: { ca: out.ca.name, caPath: out.caPath.name, cert: out.cert.name, key: out.key.name },
    mode,
    modeSource,
    notes,
  };
}

function sslModeFrom(opts: OptionLookup): { mode: SslMode; modeSource?: OptionSource } {
  const raw = sstValue(opts, "ssl-mode");
  if (raw === undefined) return { mode: DEFAULT_SSL_MODE };
  const src = sstSource(opts, "ssl-mode");
  const where = src?.where ?? "ssl-mode";
  const mode = raw.toUpperCase();
  switch (mode) {
    case "VERIFY_IDENTITY":
    case "VERIFY_CA":
    case "REQUIRED":
      return { mode, modeSource: src };
    case "DISABLED":
      throw new ConfigError(
        `${where}=${raw} asks for an unencrypted transfer, which wsrep_sst_rsync_tunnel never ` +
          "makes; set wsrep_sst_method=rsync for a plaintext SST, or set ssl-mode to " +
          "VERIFY_IDENTITY (the default), VERIFY_CA or REQUIRED",
      );
    default:
      throw new ConfigError(
        `${where}=${raw} is not a known ssl-mode; use VERIFY_IDENTITY (the default), ` +
          "VERIFY_CA or REQUIRED",
      );
  }
}
