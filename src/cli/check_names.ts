/**
 * `check`'s look at how peers reach this node: our certificate against every name a donor may
 * use for us (`wsrep_sst_receive_address`, `wsrep_node_address`, `bind_address`, the host name),
 * with the exact subjectAltName entry to add, and the joiner's port (free, or who holds it).
 *
 * @module
 */
import type { OptionLookup } from "../config/option_lookup.ts";
import { joinerPort, peerFacingNames } from "../config/peer_facing_names.ts";
import type { TlsSetup } from "../tunnel/tls_setup.ts";
import { certificateNames, socatCanVerify } from "../tunnel/peer_probe.ts";
import { describePortHolder } from "../tunnel/listen_check.ts";
import { BusyError, ExitCode, SstError } from "../core/errors.ts";
import { hostText } from "../core/address.ts";
import { parseIpBytes } from "../core/ip.ts";
import type { CheckReport } from "./check_report.ts";

/** The subjectAltName entry for a name. */
function san(name: string): string {
  return parseIpBytes(name) ? `IP:${name}` : `DNS:${name}`;
}

/**
 * Checks our (joiner) certificate against the names donors may use: the advertised one is an
 * error (donors check exactly that name), the others warnings. With `ssl-mode=VERIFY_CA` or
 * `REQUIRED` no name is checked.
 */
export function checkOurNames(report: CheckReport, opts: OptionLookup, tls: TlsSetup): void {
  if (tls.mode !== "VERIFY_IDENTITY") {
    report.info(`joiner: ssl-mode=${tls.mode}: donors do not check our certificate's name`);
    return;
  }
  const names = peerFacingNames(opts).map((n) => ({
    name: hostText(n.host),
    what: `[mysqld] ${n.source}`,
    where: n.where,
    advertised: n.advertised,
  }));
  const host = Deno.hostname();
  names.push({ name: host, what: "the host name", where: "hostname", advertised: false });
  const ours = `our certificate ${tls.certFile} (${certificateNames(tls.leaf)})`;
  const checked = new Set<string>();
  for (const n of names) {
    if (checked.has(n.name)) continue;
    checked.add(n.name);
    if (socatCanVerify(tls.leaf, n.name)) {
      report.info(`joiner: ${n.what} '${n.name}': our certificate carries it`);
      continue;
    }
    const text = `joiner: ${n.what} '${n.name}' (${n.where}): ${ours} is not issued for it; ` +
      `reissue it with subjectAltName ${san(n.name)}`;
    if (n.advertised) {
      report.error(
        new SstError(ExitCode.peerRejected, `${text} (donors connect to this name and check it)`),
      );
    } else {
      report.warn(`${text} if donors may reach this node by that name`);
    }
  }
  if (!names.some((n) => n.advertised)) {
    report.info(
      "joiner: neither wsrep_sst_receive_address nor wsrep_node_address is set: mariadbd tells " +
        "donors this node's first interface address, which the certificate must carry " +
        "(subjectAltName IP:<address>)",
    );
  }
}

/** The joiner's port: free, or the process holding it (the SST would end with exit 16). */
export function checkPort(report: CheckReport, opts: OptionLookup): void {
  const port = joinerPort(opts);
  const from = opts.origin("--mysqld", "wsrep_sst_receive_address");
  const what = `port ${port} (${from ? `wsrep_sst_receive_address, ${from}` : "the default"})`;
  const holder = describePortHolder(port);
  if (holder === null) {
    report.info(`joiner: ${what} is free`);
    return;
  }
  report.error(
    new BusyError(
      `joiner: ${what} is taken by ${holder}; stop that process or set another port in ` +
        "wsrep_sst_receive_address",
      ExitCode.busy,
    ),
  );
}
