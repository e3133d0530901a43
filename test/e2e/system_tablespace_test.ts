/**
 * The InnoDB system tablespace under another name than `ibdata1`, with real mariadbd/Galera
 * nodes (our program found through PATH from `dist/bin`; run `deno task build` first): both
 * nodes run with `innodb_data_file_path=ibsys1:12M:autoextend`. node2 joins by SST with an
 * empty datadir (CHECKSUM TABLE equal on both), restarts on what it received (rejoin by IST),
 * then joins by SST again over its own, now stale, `ibsys1`.
 */
import { assertEquals } from "./support/assert.ts";
import { clusterTest, sstOfNode2 } from "./support/cluster_case.ts";
import { emptyDir, filesIn, installDatadir, joinNode } from "./support/scenario_kit.ts";
import type { Node } from "../../scripts/lib/cluster.ts";

const SPEC = "ibsys1:12M:autoextend";

function assertSystemTablespace(node: Node, step: string): void {
  const files = filesIn(node.datadir).filter((f) => /^(ibsys\d|ibdata\d)$/.test(f));
  assertEquals(files, ["ibsys1"], `${step}: ${node.name}'s system tablespace files`);
}

clusterTest({
  name: "system tablespace: both nodes with innodb_data_file_path=ibsys1:12M:autoextend: node2 " +
    "joins by SST into an empty datadir, restarts on it, and joins by SST again over its stale ibsys1",
  label: "ibsys1",
  rows: 2000,
  node: async (node) => {
    if (node.index === 1) await installDatadir(node.datadir, [`--innodb-data-file-path=${SPEC}`]);
    else await emptyDir(node.datadir); // a joiner that has nothing yet
    return { mysqld: [`innodb_data_file_path=${SPEC}`] };
  },
  run: sstOfNode2({
    tables: 4,
    before: ({ n1 }) => assertSystemTablespace(n1, "bootstrap"),
    after: async ({ cluster, n1, n2, lap }) => {
      assertSystemTablespace(n2, "SST into an empty datadir");
      await cluster.stop(n2);
      await cluster.writeMore(n1, 1, 200);
      await joinNode(cluster, n2, { expect: "IST", donor: n1, tables: 4 });
      lap("node2 restarted on the received ibsys1 (IST)");
      await cluster.stop(n2);
      // Unknown state: a full SST over node2's own, now stale, system tablespace.
      await Deno.remove(`${n2.datadir}/grastate.dat`);
      await cluster.writeMore(n1, 2, 200);
      const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: 4 });
      assertSystemTablespace(n2, "SST over a stale ibsys1");
      lap(`node2 joined by SST over its stale ibsys1 (${r.seconds.toFixed(1)}s)`);
    },
  }),
});
