/**
 * Validates the e2e cluster fixture with MariaDB's own `wsrep_sst_method=rsync`, independently
 * of our program: bootstrap, SST join, IST rejoin, equal checksums, join-type detection, the
 * listener watch (it must see the stock rsync daemon), and nothing left running.
 */
import { withCluster } from "../../scripts/lib/cluster.ts";
import { assert } from "./support/assert.ts";
import { helperListeners, show, sstThenIst } from "./support/flows.ts";

Deno.test(
  "fixture with stock rsync SST: node2 joins by SST, rejoins by IST, data equal, no leftovers",
  async () => {
    await withCluster({ size: 2, sstMethod: "rsync" }, async (cluster) => {
      const [, n2] = cluster.nodes;
      const r = await sstThenIst(cluster);
      // Positive control for the listener check of the rsync_tunnel test: the stock method
      // runs a plaintext rsync daemon on the joiner's SST port, and the watch must see it.
      const helpers = helperListeners(r.sstListeners);
      assert(
        helpers.some((l) => l.name === "rsync" && l.port === n2.sstPort && l.tag === n2.name),
        `listener watch saw node2's rsync daemon on port ${n2.sstPort} during the SST; ` +
          `saw: ${show(r.sstListeners).join(", ") || "nothing"}`,
      );
    });
  },
);
