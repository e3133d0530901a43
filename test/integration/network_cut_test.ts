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
import { ip, JOINER_IP, makeHosts } from "../support/veth_pair.ts";

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
