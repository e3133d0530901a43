/**
 * The end-to-end join scenario shared by the SST-method tests: bootstrap node1, load data,
 * node2 joins by SST, checksums equal; node2 stopped, node1 written, node2 rejoins by IST,
 * checksums equal. TCP listeners are recorded during both joins.
 *
 * @module
 */
import type { Cluster, Node } from "../../../scripts/lib/cluster.ts";
import { assert, assertEquals, diffMaps } from "./assert.ts";
import {
  type Listener,
  type ListenerWatch,
  listListeners,
  watchListeners,
  whileWatching,
} from "./listeners.ts";
import { describe } from "../../../scripts/lib/procfs.ts";

/** What happened during the scenario, for method-specific assertions. */
export interface JoinFlowResult {
  /** Listeners that appeared while node2 joined by SST (tag = owning node name, or absent). */
  sstListeners: Listener[];
  /** Listeners that appeared while node2 rejoined by IST. */
  istListeners: Listener[];
  /** Seconds taken by the SST join and the IST rejoin. */
  sstSeconds: number;
  istSeconds: number;
}

/** Logs a progress line with the time since `t0` (shown by `deno test` as test output). */
export function stopwatch(): (what: string) => void {
  const t0 = Date.now();
  return (what) => console.error(`  [${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
}

/** Tags a listener with the node owning its process (`nodeN:mariadbd`: the server itself). */
export function nodeTag(cluster: Cluster): (l: Listener) => string | undefined {
  return (l) => {
    const owner = cluster.ownerOf(l.pid);
    if (!owner) return undefined;
    return owner.pid === l.pid ? `${owner.name}:mariadbd` : owner.name;
  };
}

/**
 * Starts `joiner` and waits until it is Synced while `watch` records the listeners that
 * appear (default: this network namespace's, tagged by {@link nodeTag}).
 */
export async function joinWatched(
  cluster: Cluster,
  joiner: Node,
  timeoutMs: number,
  watch?: ListenerWatch,
): Promise<{ listeners: Listener[]; seconds: number }> {
  const { result: seconds, listeners } = await whileWatching(
    watch ?? watchListeners(await listListeners(), nodeTag(cluster)),
    async () => {
      const t = Date.now();
      cluster.start(joiner);
      await cluster.waitSynced(joiner, timeoutMs);
      return (Date.now() - t) / 1000;
    },
  );
  return { listeners, seconds };
}

/**
 * Runs the scenario on a 2-node cluster (nodes not started yet). Throws on any deviation:
 * wrong join type, checksum mismatch, SST helpers left running after a join.
 */
export async function sstThenIst(
  cluster: Cluster,
  opts: { rows?: number; joinTimeoutMs?: number } = {},
): Promise<JoinFlowResult> {
  const lap = stopwatch();
  const joinTimeout = opts.joinTimeoutMs ?? 90_000;
  const [n1, n2] = cluster.nodes;

  cluster.start(n1, { newCluster: true });
  await cluster.waitSynced(n1, 60_000);
  assertEquals(cluster.joinType(n1), "none", "bootstrap node reports no state transfer");
  await cluster.loadData(n1, { rows: opts.rows });
  lap("node1 bootstrapped, data loaded");

  const sst = await joinWatched(cluster, n2, joinTimeout);
  lap(`node2 joined (${sst.seconds.toFixed(1)}s)`);
  assertEquals(cluster.joinType(n2), "SST", "first join of node2 is an SST");
  assertEquals(
    await cluster.status(n1, "wsrep_cluster_size"),
    "2",
    "both nodes are in the primary component",
  );
  const afterSst1 = await cluster.checksums(n1);
  const afterSst2 = await cluster.checksums(n2);
  assertEquals(Object.keys(afterSst1).length, 4, "checksums cover the 4 test tables");
  assertEquals(diffMaps(afterSst1, afterSst2), [], "node2 has node1's data after the SST");
  await assertNoHelpersLeft(cluster, "SST");

  await cluster.stop(n2);
  assertEquals(
    cluster.helpers(n2).map(describe),
    [],
    "no process of node2 survives its shutdown",
  );
  await cluster.writeMore(n1, 1);
  await cluster.writeMore(n1, 2);
  lap("node2 stopped, node1 written");

  const ist = await joinWatched(cluster, n2, joinTimeout);
  lap(`node2 rejoined (${ist.seconds.toFixed(1)}s)`);
  assertEquals(cluster.joinType(n2), "IST", "rejoin of node2 after a clean stop is an IST");
  const afterIst1 = await cluster.checksums(n1);
  const afterIst2 = await cluster.checksums(n2);
  assert(
    diffMaps(afterSst1, afterIst1).length > 0,
    "the writes made while node2 was down changed node1's checksums",
  );
  assertEquals(diffMaps(afterIst1, afterIst2), [], "node2 has node1's data after the IST");
  await assertNoHelpersLeft(cluster, "IST");

  await cluster.stop(n2);
  await cluster.stop(n1);
  lap("both nodes stopped cleanly");
  return {
    sstListeners: sst.listeners,
    istListeners: ist.listeners,
    sstSeconds: sst.seconds,
    istSeconds: ist.seconds,
  };
}

/** No SST process of any node is left (bounded wait) after the join by `type`. */
async function assertNoHelpersLeft(cluster: Cluster, type: "SST" | "IST"): Promise<void> {
  for (const n of cluster.nodes) {
    assertEquals(
      (await cluster.waitHelpersGone(n)).map(describe),
      [],
      `no SST process of ${n.name} left 10 s after the ${type}`,
    );
  }
}

/** Listeners of processes other than the cluster's mariadbd servers (SST helpers). */
export function helperListeners(listeners: Listener[]): Listener[] {
  return listeners.filter((l) => l.tag !== undefined && !l.tag.endsWith(":mariadbd"));
}

/** `name@node:port` renderings for messages. */
export function show(listeners: Listener[]): string[] {
  return listeners.map((l) => `${l.name}(pid ${l.pid})@${l.tag ?? "?"} ${l.local}`);
}

/**
 * Bootstraps node1 with the standard data plus `e2e.bulk`: `rows` rows of 64 KiB off-page
 * blobs, so that a transfer lasts long enough to be hit (or written to) mid-way.
 */
export async function bootstrapWithBulk(cluster: Cluster, rows: number): Promise<Node> {
  const n1 = cluster.node(1);
  cluster.start(n1, { newCluster: true });
  await cluster.waitSynced(n1, 60_000);
  await cluster.loadData(n1, { rows: 20_000 });
  await cluster.sql(
    n1,
    "CREATE TABLE e2e.bulk (id INT PRIMARY KEY, b LONGBLOB NOT NULL) ENGINE=InnoDB;\n" +
      `INSERT INTO e2e.bulk SELECT seq, REPEAT(MD5(seq), 2048) FROM e2e.seq_1_to_${rows}`,
    120_000,
  );
  return n1;
}
