/**
 * Is Galera's own group channel encrypted? The joiner sends the per-SST secret to the donor
 * through it (`ready <secret>@<address>`), so whoever can read Galera traffic in plaintext
 * learns the secret. Galera encrypts when `wsrep_provider_options` sets `socket.ssl_cert` and
 * `socket.ssl_key` (or `socket.ssl=yes`) and not `socket.ssl=no`; MariaDB 11.4 and later also
 * encrypt with `wsrep_ssl_mode=SERVER` or `SERVER_X509` (the server's own TLS files).
 *
 * Read from the option files, as every setting of this program; options given to mariadbd on
 * its command line only are not seen.
 *
 * @module
 */
import type { OptionLookup } from "./option_lookup.ts";

/** What the option files say about Galera's group channel. */
export type GaleraTls =
  | { kind: "on"; via: string }
  | { kind: "off"; why: string };

/** The `key=value` pairs of a `wsrep_provider_options` string (`;`-separated), keys lower-cased. */
export function providerOptions(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of raw.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

const NO = /^(no|false|off|0)$/i;
const YES = /^(yes|true|on|1)$/i;

/** Decides from `wsrep_provider_options` and `wsrep_ssl_mode` (either may be unset). */
export function galeraTlsOf(
  providerRaw: string | undefined,
  sslMode: string | undefined,
): GaleraTls {
  const o = providerOptions(providerRaw ?? "");
  const ssl = o.get("socket.ssl");
  if (ssl !== undefined && NO.test(ssl)) {
    return { kind: "off", why: "wsrep_provider_options sets socket.ssl=" + ssl };
  }
  if (/^server(_x509)?$/i.test(sslMode ?? "")) {
    return { kind: "on", via: `wsrep_ssl_mode=${sslMode}` };
  }
  if (o.get("socket.ssl_cert") && o.get("socket.ssl_key")) {
    return { kind: "on", via: "wsrep_provider_options socket.ssl_cert and socket.ssl_key" };
  }
  if (ssl !== undefined && YES.test(ssl)) {
    return { kind: "on", via: `wsrep_provider_options socket.ssl=${ssl}` };
  }
  return {
    kind: "off",
    why: providerRaw === undefined
      ? "no wsrep_provider_options in the option files"
      : "wsrep_provider_options sets no socket.ssl_cert/socket.ssl_key",
  };
}

/** Reads the server's options the way mariadbd's groups are read. */
export function galeraTlsFrom(opts: OptionLookup): GaleraTls {
  return galeraTlsOf(
    opts.get("--mysqld", "wsrep-provider-options"),
    opts.get("--mysqld", "wsrep-ssl-mode"),
  );
}
