/**
 * `[sst] donor-names` on the joiner's listener. socat's `commonname=` checks one name on an
 * `OPENSSL-LISTEN` (socat 1.7.4 and 1.8 alike) and resolves a DNS name first; a list of donors
 * needs more. So, with `donor-names` set, socat's per-connection `EXEC` is this program again
 * (`--donor-gate`), after socat verified the chain: it reads the names socat puts into its
 * environment (`SOCAT_OPENSSL_X509V3_SUBJECTALTNAME_DNS`, `…_IPADD`, `SOCAT_OPENSSL_X509_COMMONNAME`,
 * several values joined by ` // `), compares them with the list (given in
 * {@link DONOR_NAMES_ENV} by the listener), and only on a match runs the rsync daemon over the
 * connection; otherwise it logs the presented names and exits without reading or writing a
 * byte of the connection, so a refused donor writes nothing.
 *
 * @module
 */
import { parseIpBytes, sameIpBytes } from "../core/ip.ts";
import * as log from "../core/log.ts";
import { type DonorName, donorNameText, parseDonorName } from "../config/donor_names.ts";
import type { ProcessAdapter } from "../proc/process.ts";
import { selfCommand } from "../proc/self.ts";
import { listenerExec, socatSafe } from "./socat_address.ts";

/** The first argument of the gate's command line (see src/main.ts). */
export const DONOR_GATE_FLAG = "--donor-gate";
/** The variable that hands the accepted names to the gate (comma-separated, validated). */
export const DONOR_NAMES_ENV = "WSREP_SST_DONOR_NAMES";

/** What a donor's certificate said, as socat reported it. */
export interface PresentedNames {
  dns: string[];
  ip: string[];
  commonName: string;
  subject: string;
  peer: string;
}

/** socat joins several values of one field with " // ". */
function list(v: string | undefined): string[] {
  return (v ?? "").split(" // ").map((x) => x.trim()).filter((x) => x !== "");
}

/** The names socat put into the environment `env` for this connection. */
export function presentedNames(env: (name: string) => string | undefined): PresentedNames {
  return {
    dns: list(env("SOCAT_OPENSSL_X509V3_SUBJECTALTNAME_DNS")),
    ip: list(env("SOCAT_OPENSSL_X509V3_SUBJECTALTNAME_IPADD")),
    commonName: env("SOCAT_OPENSSL_X509_COMMONNAME") ?? "",
    subject: env("SOCAT_OPENSSL_X509_SUBJECT") ?? "",
    peer: `${env("SOCAT_PEERADDR") ?? "?"}:${env("SOCAT_PEERPORT") ?? "?"}`,
  };
}

function sameIp(a: string, b: string): boolean {
  const x = parseIpBytes(a);
  const y = parseIpBytes(b);
  return x !== null && y !== null && sameIpBytes(x, y);
}

/**
 * The entry of `allowed` the certificate is issued for, or null: subjectAltName DNS entries
 * (case-insensitive) and IP entries (as addresses); the common name only when the certificate
 * has no subjectAltName DNS or IP entry at all.
 */
export function matchDonor(allowed: readonly DonorName[], seen: PresentedNames): DonorName | null {
  const hasSan = seen.dns.length > 0 || seen.ip.length > 0;
  const dns = hasSan ? seen.dns : [seen.commonName].filter((c) => c !== "");
  const ips = hasSan ? seen.ip : dns.filter((c) => parseIpBytes(c) !== null);
  for (const a of allowed) {
    if (a.kind === "dns" && dns.some((d) => d.toLowerCase() === a.name.toLowerCase())) return a;
    if (a.kind === "ip" && ips.some((i) => sameIp(i, a.address))) return a;
  }
  return null;
}

/** The presented names, for a log line. */
export function describePresented(seen: PresentedNames): string {
  const names = [...seen.dns.map((d) => `DNS:${d}`), ...seen.ip.map((i) => `IP:${i}`)];
  return names.length > 0
    ? `subjectAltName ${names.join(", ")} (subject ${seen.subject || "empty"})`
    : `no subjectAltName, common name '${seen.commonName}' (subject ${seen.subject || "empty"})`;
}

/** The value of {@link DONOR_NAMES_ENV} for `names`. */
export function donorNamesEnv(names: readonly DonorName[]): Record<string, string> {
  return { [DONOR_NAMES_ENV]: names.map(donorNameText).join(",") };
}

/**
 * The listener's `EXEC:` address that runs the gate, then (on a match) one rsync daemon over
 * the connection's stdio. Every word is checked for socat (no space, comma, colon …).
 */
export function gatedRsyncServerExec(rsync: string, configFile: string): string {
  const words = [
    ...selfCommand().map((w) => socatSafe("program path", w)),
    DONOR_GATE_FLAG,
    socatSafe("rsync path", rsync),
    "--server",
    "--daemon",
    `--config=${socatSafe("rsync daemon config path", configFile)}`,
    ".",
  ];
  return listenerExec(words.join(" "));
}

/**
 * Runs the gate for one connection: `argv` is the rsync daemon's command line. Returns the exit
 * status (rsync's on a match; 1 when refused, without touching stdin or stdout).
 */
export async function runDonorGate(
  argv: readonly string[],
  adapter: ProcessAdapter,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<number> {
  const allowed = (env(DONOR_NAMES_ENV) ?? "").split(",").map(parseDonorName)
    .filter((n): n is DonorName => n !== null);
  const seen = presentedNames(env);
  const match = allowed.length > 0 ? matchDonor(allowed, seen) : null;
  if (match === null || argv.length === 0) {
    log.error(
      `refused a donor connection from ${seen.peer}: its certificate presents ` +
        `${describePresented(seen)}, none of [sst] donor-names=` +
        `${allowed.map(donorNameText).join(",")}; nothing was written. If this is the ` +
        "intended donor, add one of its certificate's names to [sst] donor-names on this node",
    );
    return 1;
  }
  const child = adapter.spawn({
    cmd: argv[0],
    args: argv.slice(1),
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
    dieWithParent: true,
  });
  const status = await child.status;
  return status.code;
}
