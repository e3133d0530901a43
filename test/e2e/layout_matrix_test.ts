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
import type { Cluster, Node } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { clusterTest, type Scene } from "./support/cluster_case.ts";
import {
  emptyDir,
  filesIn,
  installDatadir,
  joinNode,
  type JoinReport,
  makeMysqlDirs,
  NodeConfigs,
  sstLinesOf,
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

/** Every file set moved out of the node's datadir, each into a directory of its own. */
function movedOut(n: Node): Dirs {
  return {
    ibdata: `${n.dir}/ibdata`,
    redo: `${n.dir}/redo`,
    undo: `${n.dir}/undo`,
    aria: `${n.dir}/aria`,
    binlog: `${n.dir}/binlogs`,
  };
}

/** How node2 is readied for the SST of a step. */
type JoinerStart =
  /** Its first start, as its option file says, with an empty datadir. */
  | "new"
  /** Stopped, reconfigured to the step's layout, datadir wiped. */
  | "reconfigured"
  /** Stopped, reconfigured, the earlier layout's files kept: only the Galera state goes. */
  | "reconfigured over old files";

/** One SST of node2 into a layout, then a restart of node2 on what it received. */
interface MatrixStep {
  /** The step's name: the joiner's layout. */
  name: string;
  /** Short label of its messages. */
  label: string;
  /** Where node2 keeps each file set in this step. */
  dirs: (n2: Node) => Dirs;
  joiner: JoinerStart;
  /** File sets of an earlier layout left in node2's datadir (kept, and reported). */
  strays?: string[];
  /** Further checks once node2 joined. */
  also?: (s: Scene, r: JoinReport, dirs: Dirs) => Promise<void> | void;
}

/** Readies node2 for `step`: directories outside its datadir made, option file rewritten. */
async function readyJoiner(s: Scene, step: MatrixStep, dirs: Dirs, undo: number): Promise<void> {
  const { cluster, configs, n2 } = s;
  switch (step.joiner) {
    case "new":
      await cluster.wipe(n2);
      return;
    case "reconfigured":
    case "reconfigured over old files": {
      const outside = Object.values(dirs).filter((d) => !d.startsWith(`${n2.datadir}/`));
      if (outside.length > 0) await makeMysqlDirs(...outside);
      const wipe = step.joiner === "reconfigured";
      await reconfigure(cluster, configs, n2, dirLines(dirs, undo), wipe);
      return;
    }
    default: {
      const never: never = step.joiner;
      throw new Error(`unknown joiner start ${never}`);
    }
  }
}

/** The steps of a case, in order, on one cluster: SST, file checks, restart by IST. */
async function runSteps(s: Scene, steps: MatrixStep[], undo: number): Promise<void> {
  const { cluster, n1, n2, lap, t } = s;
  for (const [i, step] of steps.entries()) {
    await t.step(step.name, async () => {
      const dirs = step.dirs(n2);
      await readyJoiner(s, step, dirs, undo);
      const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: TABLES });
      assertFilesWhereConfigured(n2, dirs, undo, step.label, step.strays);
      await step.also?.(s, r, dirs);
      await restartJoiner(cluster, n1, n2, i + 1);
      lap(`${step.label}: SST ${r.seconds.toFixed(1)}s, restarted`);
    });
  }
}

/** One direction of the matrix: a cluster of its own, the joiner reconfigured between steps. */
interface MatrixCase {
  /** The test's name: what it proves. */
  name: string;
  label: string;
  /** `innodb_undo_tablespaces` of both nodes. */
  undo: number;
  /** A node's `[mysqld]` lines, its directories made (node2 first joins as configured). */
  node: (node: Node) => Promise<string[]>;
  /** Checks of the bootstrapped donor. */
  donor?: (n1: Node) => void;
  steps: MatrixStep[];
}

const defaultToSplit: MatrixCase = {
  name: "layout matrix: default donor → joiner with every directory moved, then only " +
    "innodb_data_home_dir (galera_sst_rsync_data_dir), then every directory inside its datadir",
  label: "matrix default→split",
  undo: 0,
  node: async (node) => {
    if (node.index === 1) return []; // the fixture's default layout
    const dirs = movedOut(node);
    await makeMysqlDirs(...Object.values(dirs));
    await emptyDir(node.datadir); // a new joiner: nothing yet
    return dirLines(dirs, 0);
  },
  steps: [
    {
      name: "every directory of the joiner moved out of its datadir",
      label: "split joiner",
      dirs: movedOut,
      joiner: "new",
    },
    {
      name: "only the joiner sets innodb_data_home_dir (the failing stock test)",
      label: "data home only",
      dirs: (n2) => ({ ibdata: `${n2.dir}/data_home` }),
      joiner: "reconfigured",
      also: ({ n2 }, _r, dirs) => {
        assert(
          !filesIn(n2.datadir).includes("ibdata1") && filesIn(dirs.ibdata!).includes("ibdata1"),
          "ibdata1 in the joiner's innodb_data_home_dir, not in its datadir",
        );
      },
    },
    {
      name: "every directory inside the joiner's datadir",
      label: "dirs inside the datadir",
      dirs: (n2) => ({
        ibdata: `${n2.datadir}/ibdata`,
        redo: `${n2.datadir}/redo`,
        undo: `${n2.datadir}/undo`,
        aria: `${n2.datadir}/aria`,
        binlog: `${n2.datadir}/binlogs`,
      }),
      joiner: "reconfigured",
    },
  ],
};

const UNDO = 3;

const splitToDefault: MatrixCase = {
  name: "layout matrix: split donor (3 undo tablespaces) → default joiner, then both split " +
    "differently over the default layout's files left in the joiner's datadir",
  label: "matrix split→default",
  undo: UNDO,
  node: async (node) => {
    if (node.index === 2) return dirLines({}, UNDO); // default layout
    const dirs = movedOut(node);
    await makeMysqlDirs(...Object.values(dirs));
    await installDatadir(node.datadir, installOptions(dirs, UNDO));
    return dirLines(dirs, UNDO);
  },
  donor: (n1) => assertFilesWhereConfigured(n1, movedOut(n1), UNDO, "donor"),
  steps: [
    {
      name: "default joiner",
      label: "default joiner",
      dirs: () => ({}),
      joiner: "new",
      also: async ({ n2 }) => {
        for (const special of ["ibdata", "redo", "undo", "aria", "binlogs"]) {
          assert(
            !(await Deno.stat(`${n2.datadir}/${special}`).catch(() => null)),
            `the donor's ${special} directory did not arrive in node2's datadir`,
          );
        }
      },
    },
    {
      name: "joiner split differently, default layout's files still in its datadir",
      label: "split differently",
      dirs: (n2) => ({
        ibdata: `${n2.dir}/j-ibdata`,
        redo: `${n2.datadir}/j-redo`,
        undo: `${n2.dir}/j-undo`,
        aria: `${n2.datadir}/j-aria`,
        binlog: `${n2.dir}/j-binlogs`,
      }),
      // No wipe: ibdata1, ib_logfile0, undo00N, aria_log* and the binlogs of the default
      // layout stay in the datadir; only the Galera state is dropped to force an SST.
      joiner: "reconfigured over old files",
      strays: ["ibdata", "redo", "undo", "aria", "binlog"],
      also: (_s, r) => {
        const warned = sstLinesOf(r.joinerLog, 200).filter((l) =>
          /WSREP_SST: \[WARNING\] \S+ holds .*left from an earlier layout/.test(l)
        );
        for (const opt of ["innodb_data_home_dir", "innodb_undo_directory", "aria_log_dir_path"]) {
          assert(
            warned.some((l) => l.includes(`${opt}=`)),
            `the joiner reports the stray files of ${opt}:\n${warned.join("\n")}`,
          );
        }
      },
    },
  ],
};

/** Both directions; each runs on a cluster of its own. */
const CASES = [defaultToSplit, splitToDefault];

for (const c of CASES) {
  clusterTest({
    name: c.name,
    label: c.label,
    rows: ROWS,
    node: async (node) => ({ mysqld: await c.node(node) }),
    run: async (s) => {
      c.donor?.(s.n1);
      await runSteps(s, c.steps, c.undo);
    },
  });
}
