/**
 * From settings to checked TLS material and socat options, with warnings logged once.
 *
 * @module
 */
import type { Settings } from "../config/settings.ts";
import type { ProcessAdapter } from "../proc/process.ts";
import * as log from "../sst/log.ts";
import { type CheckedTls, checkTlsFiles } from "./certificates.ts";
import { disablesVerification, type TlsOptions } from "./socat_address.ts";

/** Checks the node's certificate, key and CA before anything starts. */
export async function checkTls(
  settings: Settings,
  role: "joiner" | "donor",
  adapter: ProcessAdapter,
): Promise<CheckedTls> {
  const t = settings.tls;
  const checked = await checkTlsFiles(
    { ca: t.ca, caPath: t.caPath, cert: t.cert, key: t.key },
    { role, adapter },
  );
  for (const w of checked.warnings) log.warn(w);
  if (disablesVerification(settings.sockopt)) {
    log.warn(
      `[sst] sockopt='${settings.sockoptRaw}' turns certificate verification OFF: any host can ` +
        "impersonate the peer; use this only for debugging and remove it afterwards",
    );
  }
  log.info(
    `TLS: certificate ${checked.certFile} (${checked.leaf.subject}, valid until ` +
      `${checked.leaf.notAfter.toISOString()}), trusted CAs ${checked.caFile ?? checked.caPath}`,
  );
  return checked;
}

/** The socat options for checked material. */
export function tlsOptionsOf(c: CheckedTls): TlsOptions {
  return { certFile: c.certFile, keyFile: c.keyFile, caFile: c.caFile, caPath: c.caPath };
}
