/**
 * Real-cluster scenarios of `wsrep_sst_method=rsync_tunnel` (mariadbd + Galera on loopback,
 * our program found through PATH from `dist/bin`; run `deno task build` first):
 *
 * - one 2-node cluster, successive joins of node2: an SST while node1 is being written, a
 *   clean shutdown with writes meanwhile (IST), a wiped datadir (full SST), a SIGKILL of node2
 *   during its SST and a SIGKILL of a synced node2 (each followed by a restart);
 * - a 3-node chain: node2 joins from node1 by our SST, then node3 joins with
 *   `wsrep_sst_donor=node2`, so the donor is itself a product of our SST.
 *
 * Every join checks the join type from the logs, that it went through our program, CHECKSUM
 * TABLE equality on all running nodes, and that no helper process is left.
 */
import { assert } from "./support/assert.ts";
import { type ClusterCase, clusterTest } from "./support/cluster_case.ts";
import { describe } from "../../scripts/lib/procfs.ts";
import {
  backgroundWriter,
  ensureWriteTable,
  joinNode,
  logFrom,
  logMark,
  sstLinesOf,
  verifyCluster,
  waitLog,
} from "./support/scenario_kit.ts";

const ROWS = 2000;

const successiveJoins: ClusterCase = {
  name: "scenarios: SST under donor writes, clean restart (IST), wiped datadir (SST), " +
    "SIGKILL during SST and of a synced joiner",
  label: "scenarios",
  rows: ROWS,
  // Two nodes: without a heavier node1, killing node2 would cost node1 its quorum. (Set in
  // the option file: 11.8 refuses to change wsrep_provider_options at runtime.)
  node: (n) => ({ providerOptions: n.index === 1 ? ["pc.weight=2"] : [] }),
  run: async ({ cluster, n1, n2, lap, t }) => {
    await ensureWriteTable(cluster, n1);

    await t.step("node2 joins by SST while a writer loop runs on the donor", async () => {
      const before = logMark(n1);
      const writer = backgroundWriter(cluster, n1, 3000, "during-sst");
      let atDonorStart = -1;
      let atDonorDone = -1;
      const watch = (async () => {
        const deadline = Date.now() + 120_000;
        while (Date.now() < deadline && (atDonorStart < 0 || atDonorDone < 0)) {
          const log = logFrom(n1, before);
          if (atDonorStart < 0 && /SST started on donor/.test(log)) atDonorStart = writer.count;
          if (atDonorDone < 0 && /SST complete on donor/.test(log)) atDonorDone = writer.count;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      let written = -1;
      const stopWriter = async () => {
        if (written >= 0) return;
        written = await writer.stop();
        await watch;
      };
      let joined;
      try {
        joined = await joinNode(cluster, n2, {
          expect: "SST",
          donor: n1,
          tables: 5,
          onSynced: stopWriter,
        });
      } finally {
        await stopWriter();
      }
      lap(
        `writer: ${written} rows; ${atDonorStart} when our donor started, ` +
          `${atDonorDone} when it completed`,
      );
      assert(atDonorStart >= 0 && atDonorDone >= 0, "saw our donor start and complete");
      assert(atDonorStart > 0, `rows were written before the SST began (${atDonorStart})`);
      assert(
        written > atDonorStart,
        `rows were written on the donor after its SST began (${atDonorStart} → ${written})`,
      );
      const [[rows]] = await cluster.sql(n2, "SELECT COUNT(*) FROM e2e.w");
      assert(rows === String(written), `node2 has all ${written} rows of the writer: ${rows}`);
      lap(`node2 joined by SST (${joined.seconds.toFixed(1)}s)`);
    });

    await t.step("clean shutdown of node2, writes on node1, restart → IST", async () => {
      const before = await cluster.checksums(n1);
      await cluster.stop(n2);
      await cluster.writeMore(n1, 1, 200);
      await cluster.writeMore(n1, 2, 200);
      const r = await joinNode(cluster, n2, { expect: "IST", tables: 5 });
      const after = await cluster.checksums(n2);
      assert(
        JSON.stringify(before) !== JSON.stringify(after),
        "the writes made while node2 was down reached it",
      );
      lap(`node2 rejoined by IST (${r.seconds.toFixed(1)}s)`);
    });

    await t.step("wiped datadir of node2 → full SST", async () => {
      await cluster.stop(n2);
      await cluster.wipe(n2);
      await cluster.writeMore(n1, 3, 200);
      const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: 5 });
      lap(`node2 rejoined by SST after a wipe (${r.seconds.toFixed(1)}s)`);
    });

    await t.step("SIGKILL of node2's mariadbd during its SST, restart → rejoin", async () => {
      await cluster.stop(n2);
      await cluster.wipe(n2);
      const mark1 = logMark(n1);
      cluster.start(n2);
      // Kill as soon as our donor is at work (node2 is then inside its SST).
      await waitLog(
        n1,
        mark1,
        /WSREP_SST: \[INFO\] rsync_tunnel SST started on donor/,
        90_000,
        n2,
      );
      await cluster.kill(n2);
      lap("node2 killed during its SST");
      const joinerLeft = await cluster.waitHelpersGone(n2, 20_000);
      assert(
        joinerLeft.length === 0,
        `our joiner and its helpers end when mariadbd is killed; left after 20 s:\n` +
          joinerLeft.map(describe).join("\n") + "\n" + sstLinesOf(cluster.logSinceStart(n2))
          .join("\n"),
      );
      // The donor finishes or fails its side, and node1 returns to Synced.
      await cluster.waitSynced(n1, 60_000);
      const donorLeft = await cluster.waitHelpersGone(n1, 20_000);
      assert(
        donorLeft.length === 0,
        `the donor's helpers end after the joiner died; left:\n` +
          donorLeft.map(describe).join("\n") + "\n" + sstLinesOf(logFrom(n1, mark1)).join("\n"),
      );
      const outcome = logFrom(n1, mark1).split("\n").filter((l) =>
        /WSREP_SST: \[(ERROR|WARNING)\]|SST complete on donor|SST sending failed/.test(l)
      );
      lap(`node2's helpers gone, node1 Synced again; donor: ${outcome.join(" | ") || "-"}`);
      await cluster.writeMore(n1, 4, 200);
      const r = await joinNode(cluster, n2, { expect: "SST or IST", tables: 5 });
      lap(`node2 rejoined by ${r.type} after the kill (${r.seconds.toFixed(1)}s)`);
    });

    await t.step("SIGKILL of a synced node2, restart → rejoin", async () => {
      await cluster.writeMore(n1, 5, 200);
      await cluster.kill(n2);
      assert(cluster.helpers(n2).length === 0, "nothing of node2 runs besides mariadbd");
      await cluster.writeMore(n1, 6, 200);
      const r = await joinNode(cluster, n2, { expect: "SST or IST", tables: 5 });
      lap(`node2 rejoined by ${r.type} after a crash (${r.seconds.toFixed(1)}s)`);
    });
  },
};

const donorFromOurSst: ClusterCase = {
  name: "scenarios: a donor that itself joined through our SST (node3 ← node2 ← node1)",
  label: "chain",
  rows: ROWS,
  size: 3,
  node: (node) => ({ mysqld: node.index === 3 ? ["wsrep_sst_donor=node2"] : [] }),
  run: async ({ cluster, n1, n2, lap }) => {
    const n3 = cluster.node(3);
    await ensureWriteTable(cluster, n1);
    const r2 = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: 5 });
    lap(`node2 joined by SST from node1 (${r2.seconds.toFixed(1)}s)`);
    await cluster.writeMore(n1, 1, 200);
    const r3 = await joinNode(cluster, n3, { expect: "SST", donor: n2, tables: 5 });
    lap(`node3 joined by SST from node2 (${r3.seconds.toFixed(1)}s)`);
    const n2log = r3.otherLogs.get("node2") ?? "";
    assert(
      /requested state transfer from 'node2'\. Selected \d+\.\d+ \(node2\)/.test(n2log),
      `Galera on node2 selected node2 as donor for node3:\n${sstLinesOf(n2log).join("\n")}`,
    );
    assert(
      !/SST started on donor/.test(r3.otherLogs.get("node1") ?? ""),
      "node1 was not a donor for node3",
    );
    assert(cluster.joinType(n3) === "SST", "node3 joined by SST");
    await cluster.writeMore(n3, 2, 200);
    await verifyCluster(cluster, "after writes on node3", 5);
  },
};

/** Both scenarios; each runs on a cluster of its own. */
for (const c of [successiveJoins, donorFromOurSst]) clusterTest(c);
