/**
 * `[sst] donor-names`: the donor identities the joiner accepts. Unset (the default), any donor
 * whose certificate chains to the joiner's CA may connect, and the per-SST secret (which
 * crosses Galera's group channel) binds the session. Set, every donor connection must also
 * present a certificate issued for one of these names: a subjectAltName DNS entry equal to a
 * listed name (case-insensitive), a subjectAltName IP entry equal to a listed address, or — only
 * for a certificate without subjectAltName — its common name; the same rule as the donor's check
 * of the joiner. Wildcards are not expanded: a listed name matches only the same text.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import { isIpv4, isIpv6 } from "../core/ip.ts";
import type { OptionLookup } from "./option_lookup.ts";
import { sstOrigin, sstValue } from "./sst_keys.ts";

/** A DNS name as it may appear in a certificate: labels of letters, digits, `-` and `_`. */
const DNS_NAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** One validated entry of `donor-names`: a DNS name or an IP address. */
export type DonorName = { kind: "dns"; name: string } | { kind: "ip"; address: string };

/** Parses one entry; null when it is neither a DNS name nor an IP literal. */
export function parseDonorName(raw: string): DonorName | null {
  const text = raw.trim();
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (isIpv4(bare) || isIpv6(bare)) return { kind: "ip", address: bare };
  if (DNS_NAME_RE.test(text)) return { kind: "dns", name: text.replace(/\.$/, "") };
  return null;
}

/** The text of an entry, as listed and logged. */
export function donorNameText(n: DonorName): string {
  return n.kind === "dns" ? n.name : n.address;
}

/** Parses a comma-separated list; throws naming the bad entry and `where` it came from. */
export function parseDonorNames(raw: string, where: string): DonorName[] {
  const out: DonorName[] = [];
  for (const entry of raw.split(",")) {
    if (entry.trim() === "") continue;
    const n = parseDonorName(entry);
    if (n === null) {
      throw new ConfigError(
        `[sst] donor-names entry '${JSON.stringify(entry.trim()).slice(1, -1)}' (${where}) is ` +
          "neither a DNS name nor an IP address; list the donors' certificate names separated " +
          "by commas, e.g. donor-names=node1.example.com,node2.example.com,192.0.2.3",
      );
    }
    out.push(n);
  }
  if (out.length === 0) {
    throw new ConfigError(
      `[sst] donor-names (${where}) is empty; remove the key to accept any donor certificate ` +
        "of the CA, or list the donors' certificate names",
    );
  }
  return out;
}

/** `[sst] donor-names`, or null when unset (any donor certificate of the CA is accepted). */
export function donorNamesFrom(opts: OptionLookup): DonorName[] | null {
  const raw = sstValue(opts, "donor-names");
  if (raw === undefined) return null;
  return parseDonorNames(raw, sstOrigin(opts, "donor-names") ?? "[sst]");
}
