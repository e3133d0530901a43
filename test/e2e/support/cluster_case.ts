/**
 * One real-cluster test of `wsrep_sst_method=rsync_tunnel` as a row of a case table describes
 * it, and the one runner of such rows: a TLS cluster (one test CA, every node's certificate in
 * its `[sst]` group, option files kept by {@link NodeConfigs} so that a case can rewrite them),
 * node1 bootstrapped with the fixture's data, the case's body, then every node stopped
 * cleanly, the last one first. {@link sstOfNode2} is the body most cases share: node2 joins by
 * SST from node1, with the case's checks before and after.
 *
 * @module
 */
import {
  type Cluster,
  type ClusterOptions,
  type Node,
  type NodeExtra,
  withCluster,
} from "../../../scripts/lib/cluster.ts";
import {
  certificates,
  type CertOptions,
  joinNode,
  type JoinReport,
  LAUNCHER_DIR,
  NodeConfigs,
  requireLauncher,
  sstLines,
  startWithDefaults,
  stopwatch,
} from "./scenario_kit.ts";

/** What a case's body works with. */
export interface Scene {
  cluster: Cluster;
  /** node1: bootstrapped, Synced, with the fixture's data. */
  n1: Node;
  /** node2: configured, not started yet. */
  n2: Node;
  /** Every node's option-file content as written, to rewrite between joins. */
  configs: NodeConfigs;
  /** Logs a progress line (with the case's label and the time since the start). */
  lap: (what: string) => void;
  /** The test's context, for steps. */
  t: Deno.TestContext;
}

/** One real-cluster test: a row of a case table. */
export interface ClusterCase {
  /** The test's name: what it proves. */
  name: string;
  /** Short label of its progress lines. */
  label: string;
  /** Skip the test (e.g. a plugin this host lacks). */
  ignore?: boolean;
  /** Number of nodes (default 2). */
  size?: 2 | 3;
  /** Rows of the fixture's data loaded on node1 at bootstrap. */
  rows: number;
  /** The fixture's `log_bin=mysql-bin` (default true; false where the case sets its own). */
  binlog?: boolean;
  /** Defaults options node1 is bootstrapped with (e.g. `--defaults-group-suffix=.x`). */
  defaultsArgs?: string[];
  /** Names on the node certificates (default CN localhost, DNS:localhost, IP:127.0.0.1). */
  certs?: CertOptions;
  /** The option group given the TLS lines, first of the groups (default `sst`). */
  tlsGroup?: string;
  /**
   * Fills the directory mariadbd finds our program in (the cluster's own, empty `bin/`), e.g.
   * with a wrapper of the launcher. Default: the launcher's directory itself.
   */
  programDir?: (dir: string) => Promise<void>;
  /** A node's option-file content besides its TLS lines, made before its first start. */
  node?: (node: Node, cluster: Cluster) => NodeExtra | Promise<NodeExtra>;
  /** The case on the bootstrapped cluster; every node is stopped cleanly after it. */
  run: (scene: Scene) => Promise<void>;
}

/** Registers `c` as a Deno test. */
export function clusterTest(c: ClusterCase): void {
  Deno.test({
    name: c.name,
    ignore: c.ignore ?? false,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      await requireLauncher();
      const configs = new NodeConfigs();
      await withCluster(clusterOptions(c, configs), async (cluster) => {
        const lap = stopwatch(c.label);
        await bootstrap(cluster, c.rows, c.defaultsArgs);
        lap(`node1 bootstrapped, ${c.rows} rows loaded`);
        await c.run({ cluster, n1: cluster.node(1), n2: cluster.node(2), configs, lap, t });
        for (const n of [...cluster.nodes].reverse()) await cluster.stop(n);
      });
    },
  });
}

function clusterOptions(c: ClusterCase, configs: NodeConfigs): ClusterOptions {
  const certs = certificates(c.certs);
  let programDir: Promise<void> | null = null;
  return {
    size: c.size ?? 2,
    sstMethod: "rsync_tunnel",
    // With programDir: the fixture's default, an empty bin/ under the cluster root.
    pathPrefix: c.programDir ? undefined : LAUNCHER_DIR,
    binlog: c.binlog ?? true,
    configure: configs.capture(async (node, cluster) => {
      if (c.programDir) await (programDir ??= c.programDir(cluster.pathPrefix));
      const extra = await c.node?.(node, cluster) ?? {};
      return withTls(extra, c.tlsGroup ?? "sst", sstLines(await certs(node, cluster)));
    }),
  };
}

/** `extra` with `tls` at the head of group `group`, which comes first. */
function withTls(extra: NodeExtra, group: string, tls: string[]): NodeExtra {
  const { [group]: own = [], ...others } = extra.groups ?? {};
  return { ...extra, groups: { [group]: [...tls, ...own], ...others } };
}

/** Starts node1 as a new cluster, waits until it is Synced and loads `rows` rows of data. */
async function bootstrap(cluster: Cluster, rows: number, defaultsArgs?: string[]): Promise<void> {
  const n1 = cluster.node(1);
  if (defaultsArgs) startWithDefaults(cluster, n1, defaultsArgs, { newCluster: true });
  else cluster.start(n1, { newCluster: true });
  await cluster.waitSynced(n1, 60_000);
  await cluster.loadData(n1, { rows });
}

/** What {@link sstOfNode2} does around the SST. */
export interface SstCheck {
  /** On the bootstrapped node1, before node2 starts (extra tables, checks of node1). */
  before?: (s: Scene) => Promise<void> | void;
  /** Test tables the checksums must cover (the fixture's 4 and the case's own). */
  tables: number;
  /** Defaults options node2 is started with. */
  defaultsArgs?: string[];
  /** What must hold once node2 joined (joinNode checked the join, the data, no helper left). */
  after: (s: Scene, r: JoinReport) => Promise<void> | void;
}

/** A case body: `before`, node2 joins by SST from node1 ({@link joinNode}), `after`. */
export function sstOfNode2(check: SstCheck): (s: Scene) => Promise<void> {
  return async (s) => {
    await check.before?.(s);
    const r = await joinNode(s.cluster, s.n2, {
      expect: "SST",
      donor: s.n1,
      tables: check.tables,
      defaultsArgs: check.defaultsArgs,
    });
    s.lap(`node2 joined by SST (${r.seconds.toFixed(1)}s)`);
    await check.after(s, r);
  };
}
