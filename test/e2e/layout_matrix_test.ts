/**
 * Donor and joiner with DIFFERENT file layouts, on real mariadbd/Galera nodes under
 * `wsrep_sst_method=rsync_tunnel` (our program found through PATH from `dist/bin`; run
 * `deno task build` first). Every engine file set must land where the JOINER's configuration
 * puts it, whatever the donor's layout; the joiner must then restart. One cluster per
 * direction, the joiner reconfigured between SSTs:
 *
 * - default donor → joiner with data home, redo, undo, Aria and binlog directories each moved
 *   out of the datadir; then only `innodb_data_home_dir` set on the joiner (MariaDB's
 *   `galera.galera_sst_rsync_data_dir`); then every directory inside the joiner's datadir;
 * - split donor (3 undo tablespaces, every directory moved) → default joiner; then both split
 *   differently (some joiner directories inside its datadir, some outside), over the default
 *   layout's files left in the joiner's datadir (kept and reported, as stock keeps them).
 *
 * Each SST is checked by CHECKSUM TABLE on both nodes (joinNode), by where the joiner's files
 * are, and by a restart of the joiner (clean stop, writes on the donor, rejoin by IST).
 *
 * @module
 */
import { type Cluster, type Node, withCluster } from "./cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import {
  certificates,
  emptyDir,
  filesIn,
  installDatadir,
  joinNode,
  LAUNCHER_DIR,
  makeMysqlDirs,
  NodeConfigs,
  requireLauncher,
  sstLines,
  sstLinesOf,
  stopwatch,
} from "./support/scenario_kit.ts";

const ROWS = 2000;
const TABLES = 4;

/** Where one node keeps each file set; `undefined` means the datadir (the default). */
interface Dirs {
  ibdata?: string;
  redo?: string;
  undo?: string;
  aria?: string;
  /** Directory of the binary logs (base name `mysql-bin`). */
  binlog?: string;
}

/** The `[mysqld]` lines that put the file sets in `dirs`. */
function dirLines(dirs: Dirs, undoTablespaces: number): string[] {
  return [
    ...(dirs.ibdata ? [`innodb_data_home_dir=${dirs.ibdata}`] : []),
    ...(dirs.redo ? [`innodb_log_group_home_dir=${dirs.redo}`] : []),
    ...(dirs.undo ? [`innodb_undo_directory=${dirs.undo}`] : []),
    `innodb_undo_tablespaces=${undoTablespaces}`,
    ...(dirs.aria ? [`aria_log_dir_path=${dirs.aria}`] : []),
    ...(dirs.binlog ? [`log_bin=${dirs.binlog}/mysql-bin`] : []),
  ];
}

/** The same as mariadb-install-db options. */
function installOptions(dirs: Dirs, undoTablespaces: number): string[] {
  return dirLines(dirs, undoTablespaces).filter((l) => !l.startsWith("log_bin")).map((l) => {
    const [name, value] = l.split("=");
    return `--${name.replace(/_/g, "-")}=${value}`;
  });
}

const SETS = [
  { key: "ibdata", re: /^ibdata\d+$/, must: () => ["ibdata1"] },
  { key: "redo", re: /^ib_logfile\d+$/, must: () => ["ib_logfile0"] },
  {
    key: "undo",
    re: /^undo\d+$/,
    must: (n: number) => Array.from({ length: n }, (_, i) => `undo00${i + 1}`),
  },
  { key: "aria", re: /^aria_log(_control|\.\d+)$/, must: () => ["aria_log_control"] },
  { key: "binlog", re: /^mysql-bin\.(\d+|index)$/, must: () => ["mysql-bin.index"] },
] as const;

/**
 * The joiner's files are where `dirs` says: each set's files in its directory, and (unless
 * `strays` lists the sets left over from an earlier layout) none in the datadir when the set
 * lives elsewhere.
 */
function assertFilesWhereConfigured(
  node: Node,
  dirs: Dirs,
  undoTablespaces: number,
  step: string,
  strays: string[] = [],
): void {
  const inDatadir = filesIn(node.datadir);
  for (const s of SETS) {
    const dir = dirs[s.key] ?? node.datadir;
    const have = filesIn(dir);
    for (const f of s.must(undoTablespaces)) {
      assert(have.includes(f), `${step}: ${node.name}'s ${s.key} directory ${dir} lacks ${f}`);
    }
    if (s.key === "binlog") {
      assert(have.some((f) => /^mysql-bin\.\d+$/.test(f)), `${step}: binlogs in ${dir}`);
    }
    if (dir === node.datadir) continue;
    const wrong = inDatadir.filter((f) => s.re.test(f));
    if (strays.includes(s.key)) {
      assert(wrong.length > 0, `${step}: the stale ${s.key} files stay in the datadir`);
    } else {
      assertEquals(wrong, [], `${step}: no ${s.key} file in ${node.name}'s datadir (${dir})`);
    }
  }
}

/** A 2-node TLS cluster; `extra(node)` gives each node's `[mysqld]` lines. */
function matrixCluster(
  configs: NodeConfigs,
  prepare: (node: Node, cluster: Cluster) => Promise<string[]>,
) {
  const certs = certificates();
  return {
    size: 2 as const,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    configure: configs.capture(async (node: Node, cluster: Cluster) => ({
      mysqld: await prepare(node, cluster),
      groups: { sst: sstLines(await certs(node, cluster)) },
    })),
  };
}

/** Reconfigures the stopped joiner to `lines` and wipes its datadir (`wipe`) or forces an SST. */
async function reconfigure(
  cluster: Cluster,
  configs: NodeConfigs,
  node: Node,
  lines: string[],
  wipe: boolean,
): Promise<void> {
  if (node.running) await cluster.stop(node);
  if (wipe) await cluster.wipe(node);
  else await Deno.remove(`${node.datadir}/grastate.dat`); // unknown state: a full SST
  await configs.rewrite(cluster, node, (e) => ({ ...e, mysqld: lines }));
}

/** The joiner restarts on what it received: clean stop, writes on the donor, rejoin by IST. */
async function restartJoiner(cluster: Cluster, donor: Node, joiner: Node, round: number) {
  await cluster.stop(joiner);
  await cluster.writeMore(donor, round, 200);
  await joinNode(cluster, joiner, { expect: "IST", donor, tables: TABLES });
}

async function bootstrap(cluster: Cluster): Promise<void> {
  const n1 = cluster.node(1);
  cluster.start(n1, { newCluster: true });
  await cluster.waitSynced(n1, 60_000);
  await cluster.loadData(n1, { rows: ROWS });
}

Deno.test({
  name: "layout matrix: default donor → joiner with every directory moved, then only " +
    "innodb_data_home_dir (galera_sst_rsync_data_dir), then every directory inside its datadir",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await requireLauncher();
    const configs = new NodeConfigs();
    const outside = (n: Node): Dirs => ({
      ibdata: `${n.dir}/ibdata`,
      redo: `${n.dir}/redo`,
      undo: `${n.dir}/undo`,
      aria: `${n.dir}/aria`,
      binlog: `${n.dir}/binlogs`,
    });
    await withCluster(
      matrixCluster(configs, async (node) => {
        if (node.index === 1) return []; // the fixture's default layout
        const dirs = outside(node);
        await makeMysqlDirs(...Object.values(dirs));
        await emptyDir(node.datadir); // a new joiner: nothing yet
        return dirLines(dirs, 0);
      }),
      async (cluster) => {
        const lap = stopwatch("matrix default→split");
        const [n1, n2] = cluster.nodes;
        await bootstrap(cluster);
        let round = 0;

        await t.step("every directory of the joiner moved out of its datadir", async () => {
          const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: TABLES });
          assertFilesWhereConfigured(n2, outside(n2), 0, "split joiner");
          await restartJoiner(cluster, n1, n2, ++round);
          lap(`split joiner: SST ${r.seconds.toFixed(1)}s, restarted`);
        });

        await t.step(
          "only the joiner sets innodb_data_home_dir (the failing stock test)",
          async () => {
            const dirs: Dirs = { ibdata: `${n2.dir}/data_home` };
            await makeMysqlDirs(dirs.ibdata!);
            await reconfigure(cluster, configs, n2, dirLines(dirs, 0), true);
            const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: TABLES });
            assertFilesWhereConfigured(n2, dirs, 0, "data home only");
            assert(
              !filesIn(n2.datadir).includes("ibdata1") && filesIn(dirs.ibdata!).includes("ibdata1"),
              "ibdata1 in the joiner's innodb_data_home_dir, not in its datadir",
            );
            await restartJoiner(cluster, n1, n2, ++round);
            lap(`data home only: SST ${r.seconds.toFixed(1)}s, restarted`);
          },
        );

        await t.step("every directory inside the joiner's datadir", async () => {
          const d = (s: string) => `${n2.datadir}/${s}`;
          const dirs: Dirs = {
            ibdata: d("ibdata"),
            redo: d("redo"),
            undo: d("undo"),
            aria: d("aria"),
            binlog: d("binlogs"),
          };
          await reconfigure(cluster, configs, n2, dirLines(dirs, 0), true);
          const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: TABLES });
          assertFilesWhereConfigured(n2, dirs, 0, "dirs inside the datadir");
          await restartJoiner(cluster, n1, n2, ++round);
          lap(`dirs inside the datadir: SST ${r.seconds.toFixed(1)}s, restarted`);
        });
        await cluster.stop(n2);
        await cluster.stop(n1);
      },
    );
  },
});

Deno.test({
  name: "layout matrix: split donor (3 undo tablespaces) → default joiner, then both split " +
    "differently over the default layout's files left in the joiner's datadir",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await requireLauncher();
    const configs = new NodeConfigs();
    const UNDO = 3;
    const donorDirs = (n: Node): Dirs => ({
      ibdata: `${n.dir}/ibdata`,
      redo: `${n.dir}/redo`,
      undo: `${n.dir}/undo`,
      aria: `${n.dir}/aria`,
      binlog: `${n.dir}/binlogs`,
    });
    await withCluster(
      matrixCluster(configs, async (node) => {
        if (node.index === 2) return dirLines({}, UNDO); // default layout
        const dirs = donorDirs(node);
        await makeMysqlDirs(...Object.values(dirs));
        await installDatadir(node.datadir, installOptions(dirs, UNDO));
        return dirLines(dirs, UNDO);
      }),
      async (cluster) => {
        const lap = stopwatch("matrix split→default");
        const [n1, n2] = cluster.nodes;
        await bootstrap(cluster);
        assertFilesWhereConfigured(n1, donorDirs(n1), UNDO, "donor");
        let round = 0;

        await t.step("default joiner", async () => {
          await cluster.wipe(n2);
          const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: TABLES });
          assertFilesWhereConfigured(n2, {}, UNDO, "default joiner");
          for (const special of ["ibdata", "redo", "undo", "aria", "binlogs"]) {
            assert(
              !(await Deno.stat(`${n2.datadir}/${special}`).catch(() => null)),
              `the donor's ${special} directory did not arrive in node2's datadir`,
            );
          }
          await restartJoiner(cluster, n1, n2, ++round);
          lap(`default joiner: SST ${r.seconds.toFixed(1)}s, restarted`);
        });

        await t.step(
          "joiner split differently, default layout's files still in its datadir",
          async () => {
            const dirs: Dirs = {
              ibdata: `${n2.dir}/j-ibdata`,
              redo: `${n2.datadir}/j-redo`,
              undo: `${n2.dir}/j-undo`,
              aria: `${n2.datadir}/j-aria`,
              binlog: `${n2.dir}/j-binlogs`,
            };
            await makeMysqlDirs(dirs.ibdata!, dirs.undo!, dirs.binlog!);
            // No wipe: ibdata1, ib_logfile0, undo00N, aria_log* and the binlogs of the default
            // layout stay in the datadir; only the Galera state is dropped to force an SST.
            await reconfigure(cluster, configs, n2, dirLines(dirs, UNDO), false);
            const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: TABLES });
            assertFilesWhereConfigured(n2, dirs, UNDO, "split differently", [
              "ibdata",
              "redo",
              "undo",
              "aria",
              "binlog",
            ]);
            const warned = sstLinesOf(r.joinerLog, 200).filter((l) =>
              /WSREP_SST: \[WARNING\] \S+ holds .*left from an earlier layout/.test(l)
            );
            for (
              const opt of ["innodb_data_home_dir", "innodb_undo_directory", "aria_log_dir_path"]
            ) {
              assert(
                warned.some((l) => l.includes(`${opt}=`)),
                `the joiner reports the stray files of ${opt}:\n${warned.join("\n")}`,
              );
            }
            await restartJoiner(cluster, n1, n2, ++round);
            lap(`split differently: SST ${r.seconds.toFixed(1)}s, restarted`);
          },
        );
        await cluster.stop(n2);
        await cluster.stop(n1);
      },
    );
  },
});
