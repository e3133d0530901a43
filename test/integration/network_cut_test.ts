/**
 * A network cut between donor and joiner mid-transfer: two hosts in network namespaces this
 * test creates (a veth pair, private addresses that exist only there), the joiner's end of the
 * link taken down while data flows. The donor's own link stays up, as when something between
 * the hosts fails: its packets vanish (no error, no reset), and a connection it opens after the
 * cut waits instead of failing at once. Both sides must give up on their own within the idle
 * timeout, naming it, with nothing left running.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst } from "../../scripts/lib/sst_driver.ts";
import { assertNothingLeft, fileSize, makeFixture, pollUntil } from "../../scripts/lib/fixture.ts";
import { record } from "../../scripts/lib/ledger.ts";

const JOINER_IP = "10.78.0.2";
const DONOR_IP = "10.78.0.1";

function ip(args: string[]): boolean {
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
function makeHosts(): { donor: string; joiner: string; teardown: () => void } | null {
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

const hosts = makeHosts();
hosts?.teardown();

Deno.test({
  name:
    "network cut mid-transfer: donor and joiner both exit 110 naming tunnel-idle-timeout, nothing left",
  ignore: hosts === null, // only where network namespaces cannot be created at all
  fn: async () => {
    const h = makeHosts()!;
    const f = await makeFixture({
      bigTableBytes: 256 * 1024 * 1024,
      extraSans: [`IP:${JOINER_IP}`],
      // One locked pass: with a pre-copy (auto from 256 MiB) the cut would fall between passes.
      sstLines: ["tunnel-idle-timeout=4", "precopy=off"],
    });
    try {
      let cutAt = 0;
      const r = await driveSst({
        address: `${JOINER_IP}:${f.port}`,
        joiner: { ...f.joiner, wrap: ["ip", "netns", "exec", h.joiner] },
        donor: { ...f.donor, wrap: ["ip", "netns", "exec", h.donor] },
        timeoutMs: 90_000,
        // mariadbd would abort the joiner once the group hears of the failure; here the joiner
        // is left to notice the cut by itself.
        onDonorFailure: () => Promise.resolve(),
        onFlush: () => {
          const target = `${f.joiner.layout.datadir}/shop/orders.ibd`;
          void pollUntil(() => fileSize(target) > 1024 * 1024, 30_000, 20).then(() => {
            cutAt = Date.now();
            ip(["-n", h.joiner, "link", "set", "vj", "down"]);
          });
          return Promise.resolve();
        },
      });
      // ok = everything asserted below (the leftovers are recorded by assertNothingLeft).
      const ok = cutAt > 0 && r.joiner.code === 110 && r.donor?.code === 110 &&
        /\[ERROR\].*tunnel-idle-timeout=4/.test(r.donor?.stderr ?? "") &&
        /\[ERROR\].*tunnel-idle-timeout=4 s/.test(r.joiner.stderr) && r.joiner.lines.length === 1;
      record({
        kind: "fault",
        name: "network cut between donor and joiner mid-transfer",
        ok,
        detail: `joiner ${r.joiner.code}, donor ${r.donor?.code}`,
      });
      assert(cutAt > 0, "the link was cut while data flowed");
      assertEquals(r.donor?.code, 110, r.donor?.stderr);
      assertMatch(r.donor?.stderr, /\[ERROR\].*tunnel-idle-timeout=4/);
      assertEquals(r.joiner.code, 110, r.joiner.stderr);
      assertMatch(r.joiner.stderr, /\[ERROR\].*tunnel-idle-timeout=4 s/);
      assertEquals(r.joiner.lines.length, 1, "joiner prints no final line");
      assertNothingLeft(f, "network cut");
    } finally {
      h.teardown();
      await f.cleanup();
    }
  },
});
