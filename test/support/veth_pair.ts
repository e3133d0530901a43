/**
 * Two hosts for loopback-free fault tests: network namespaces joined by a veth pair (`vd` in
 * the donor's, `vj` in the joiner's), private addresses that exist only there, and permanent
 * neighbour entries so that a link taken down drops packets silently (no error, no reset), as
 * when something between two hosts fails.
 *
 * @module
 */

/** The joiner's address (its end, `vj`). */
export const JOINER_IP = "10.78.0.2";
/** The donor's address (its end, `vd`). */
export const DONOR_IP = "10.78.0.1";

/** Runs `ip` with `args`; whether it succeeded. */
export function ip(args: string[]): boolean {
  return new Deno.Command("ip", { args, stdout: "null", stderr: "null" }).outputSync().success;
}

/** In namespace `ns`, maps `peerIp` for good to the MAC address of `peerDev` in `peerNs`. */
function pinNeighbour(ns: string, dev: string, peerIp: string, peerNs: string, peerDev: string) {
  const out = new Deno.Command("ip", { args: ["-n", peerNs, "-o", "link", "show", peerDev] })
    .outputSync();
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(new TextDecoder().decode(out.stdout))?.[1];
  return mac !== undefined &&
    ip(["-n", ns, "neigh", "replace", peerIp, "lladdr", mac, "dev", dev, "nud", "permanent"]);
}

/** Creates two namespaces joined by a veth pair; returns their names, or null if not allowed. */
export function makeHosts(): { donor: string; joiner: string; teardown: () => void } | null {
  const tag = crypto.randomUUID().slice(0, 6);
  const donor = `sstcut-d-${tag}`, joiner = `sstcut-j-${tag}`;
  const teardown = () => {
    ip(["netns", "del", donor]);
    ip(["netns", "del", joiner]);
  };
  const ok = ip(["netns", "add", donor]) && ip(["netns", "add", joiner]) &&
    ip([
      "link",
      "add",
      "vd",
      "netns",
      donor,
      "type",
      "veth",
      "peer",
      "name",
      "vj",
      "netns",
      joiner,
    ]) &&
    ip(["-n", donor, "addr", "add", `${DONOR_IP}/24`, "dev", "vd"]) &&
    ip(["-n", joiner, "addr", "add", `${JOINER_IP}/24`, "dev", "vj"]) &&
    ip(["-n", donor, "link", "set", "vd", "up"]) && ip(["-n", joiner, "link", "set", "vj", "up"]) &&
    ip(["-n", donor, "link", "set", "lo", "up"]) && ip(["-n", joiner, "link", "set", "lo", "up"]);
  // Permanent neighbour entries, as for a router whose address is long resolved: after the cut
  // the packets go out and vanish, instead of ARP failing with "No route to host".
  const neighbours = ok && pinNeighbour(donor, "vd", JOINER_IP, joiner, "vj") &&
    pinNeighbour(joiner, "vj", DONOR_IP, donor, "vd");
  if (!neighbours) {
    teardown();
    return null;
  }
  return { donor, joiner, teardown };
}
