/**
 * From settings to checked TLS material and socat options, with warnings logged once.
 *
 * @module
 */
import type { Settings } from "../config/settings.ts";
import type { SslMode, TlsField } from "../config/tls_settings.ts";
import type { ProcessAdapter } from "../proc/process.ts";
import * as log from "../core/log.ts";
import { type CheckedTls, checkTlsFiles } from "./certificates.ts";
import { disablesVerification, type TlsOptions } from "./socat_address.ts";

/** Checked TLS material and the verification mode it is used with. */
export interface TlsSetup extends CheckedTls {
  mode: SslMode;
}

/** `ssl-mode=<value> (<where>)`, or `ssl-mode=VERIFY_IDENTITY (default)`, for messages. */
export function describeSslMode(settings: Settings): string {
  const t = settings.tls;
  return `ssl-mode=${t.mode} (${t.modeSource?.where ?? "default"})`;
}

/** True when peers are not verified at all: `ssl-mode=REQUIRED` or `[sst] sockopt` verify=0. */
export function verificationOff(settings: Settings): boolean {
  return settings.tls.mode === "REQUIRED" || disablesVerification(settings.sockopt);
}

/** Checks the node's certificate, key and CA before anything starts. */
export async function checkTls(
  settings: Settings,
  role: "joiner" | "donor",
  adapter: ProcessAdapter,
): Promise<TlsSetup> {
  const t = settings.tls;
  for (const note of t.notes) log.info(`TLS: ${note}`);
  const checked = await checkTlsFiles(
    {
      ca: t.ca,
      caPath: t.caPath,
      cert: t.cert,
      key: t.key,
      names: t.names,
      caOptional: t.mode === "REQUIRED",
    },
    { role, adapter },
  );
  for (const w of checked.warnings) log.warn(w);
  if (disablesVerification(settings.sockopt)) {
    log.warn(
      `[sst] sockopt='${settings.sockoptRaw}' turns certificate verification OFF: any host can ` +
        "impersonate the peer; use this only for debugging and remove it afterwards",
    );
  } else if (t.mode === "REQUIRED") {
    log.warn(
      `${describeSslMode(settings)} turns certificate verification OFF: any host can ` +
        "impersonate the peer (the transfer is still encrypted and needs this SST's secret); " +
        "use VERIFY_CA or VERIFY_IDENTITY unless you debug",
    );
  } else if (t.mode === "VERIFY_CA" && role === "donor") {
    log.info(
      `${describeSslMode(settings)}: certificate chains are verified on both sides, but the ` +
        "joiner's certificate name is not checked",
    );
  }
  // Where each file came from (file:line [group] key), so an operator sees which option won.
  const from = (f: TlsField) => t.names[f].where ? ` from ${t.names[f].where}` : "";
  const cas = [
    ...(checked.caFile ? [`${checked.caFile}${from("ca")}`] : []),
    ...(checked.caPath ? [`${checked.caPath}${from("caPath")}`] : []),
  ].join(", ") || "none";
  log.info(
    `TLS: certificate ${checked.certFile}${from("cert")} (${checked.leaf.subject}, valid until ` +
      `${checked.leaf.notAfter.toISOString()}), trusted CAs ${cas}, ${describeSslMode(settings)}`,
  );
  return { ...checked, mode: t.mode };
}

/** The socat options for checked material. */
export function tlsOptionsOf(c: CheckedTls & { mode?: SslMode }): TlsOptions {
  return {
    certFile: c.certFile,
    keyFile: c.keyFile,
    caFile: c.caFile,
    caPath: c.caPath,
    verify: c.mode !== "REQUIRED",
    names: c.names,
  };
}
