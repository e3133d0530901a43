/**
 * Server file layouts under `wsrep_sst_method=rsync_tunnel` with real mariadbd/Galera nodes
 * (our program found through PATH from `dist/bin`; run `deno task build` first). Each case is a
 * 2-node SST with CHECKSUM TABLE comparison, join type from the logs and no helper left:
 *
 * - InnoDB data home, redo log, undo (3 tablespaces) and Aria log directories outside the
 *   datadir, joiner's directories empty, then stale;
 * - binary logs in another directory with `log_bin_index` elsewhere; `sst-max-binlogs` 1, 0, -1
 *   as successive SSTs of the same cluster;
 * - `log_basename` (per node) with a bare `log_bin`, and a database named `lost+found`;
 * - a datadir path containing spaces;
 * - data-at-rest encryption with the file_key_management plugin.
 */
import { chownMysql, type Node } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { type ClusterCase, clusterTest, type Scene, sstOfNode2 } from "./support/cluster_case.ts";
import {
  emptyDir,
  filesIn,
  installDatadir,
  joinNode,
  makeMysqlDirs,
  mustRun,
  sstLinesOf,
} from "./support/scenario_kit.ts";

const ROWS = 2000;

/** A layout case: its name says what it proves; {@link clusterTest} runs it. */
type LayoutCase = Omit<ClusterCase, "rows">;

// ---------------------------------------------------------------------------------------------

const ENGINE_DIRS = ["ibdata", "redo", "undo", "aria"] as const;
const ENGINE_FILES: Record<typeof ENGINE_DIRS[number], string[]> = {
  ibdata: ["ibdata1"],
  redo: ["ib_logfile0"],
  undo: ["undo001", "undo002", "undo003"],
  aria: ["aria_log.00000001", "aria_log_control"],
};

function engineDirOptions(node: Node): string[] {
  const d = (name: string) => `${node.dir}/${name}`;
  return [
    `--innodb-data-home-dir=${d("ibdata")}`,
    `--innodb-log-group-home-dir=${d("redo")}`,
    `--innodb-undo-directory=${d("undo")}`,
    "--innodb-undo-tablespaces=3",
    `--aria-log-dir-path=${d("aria")}`,
  ];
}

function assertEngineLayout(node: Node, step: string): void {
  for (const dir of ENGINE_DIRS) {
    const have = filesIn(`${node.dir}/${dir}`);
    for (const f of ENGINE_FILES[dir]) {
      assert(have.includes(f), `${step}: ${node.name}'s ${dir}/ lacks ${f}; has ${have}`);
    }
  }
  const strays = filesIn(node.datadir).filter((f) =>
    /^(ibdata\d+|ib_logfile\d+|undo\d+|aria_log.*)$/.test(f)
  );
  assertEquals(strays, [], `${step}: no engine file landed in ${node.name}'s datadir`);
}

/** The joiner starts with empty engine directories, then (after a wipe) over stale ones. */
const engineDirs: LayoutCase = {
  name: "layouts: InnoDB data home, redo log, 3 undo tablespaces and Aria logs outside the " +
    "datadir (joiner's directories empty, then stale)",
  label: "engine dirs",
  node: async (node) => {
    await makeMysqlDirs(...ENGINE_DIRS.map((d) => `${node.dir}/${d}`));
    if (node.index === 1) await installDatadir(node.datadir, engineDirOptions(node));
    else await emptyDir(node.datadir); // a joiner that has nothing yet
    return {
      mysqld: engineDirOptions(node).map((o) => {
        const [name, value] = o.slice(2).split("=");
        return `${name.replace(/-/g, "_")}=${value}`;
      }),
    };
  },
  run: sstOfNode2({
    tables: 4,
    before: ({ n1 }) => assertEngineLayout(n1, "bootstrap"),
    after: async ({ cluster, n1, n2, lap }) => {
      assertEngineLayout(n2, "SST into empty directories");
      await cluster.stop(n2);
      await cluster.wipe(n2); // the datadir only: the engine directories keep stale files
      await cluster.writeMore(n1, 1, 300);
      await cluster.writeMore(n1, 2, 300);
      const r2 = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: 4 });
      assertEngineLayout(n2, "SST over stale engine files");
      lap(`node2 joined by SST over stale engine files (${r2.seconds.toFixed(1)}s)`);
    },
  }),
};

// ---------------------------------------------------------------------------------------------

/** Index entries of a binlog index, as absolute paths. */
function indexEntries(index: string, datadir: string): string[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(index);
  } catch {
    return [];
  }
  return text.split("\n").map((l) => l.trim()).filter((l) => l).map((e) =>
    e.startsWith("/") ? e : `${datadir}/${e.replace(/^\.\//, "")}`
  );
}

function base(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

function isPrefix(small: Uint8Array, big: Uint8Array): boolean {
  if (small.length > big.length) return false;
  for (let i = 0; i < small.length; i++) if (small[i] !== big[i]) return false;
  return true;
}

const binDir = (n: Node) => `${n.dir}/binlogs`;
const idxFile = (n: Node) => `${n.dir}/binlog-index/cluster-bin.index`;

/** Successive SSTs of node2, one step each: `sst-max-binlogs` and what node2 must get. */
const MAX_BINLOGS: [max: number, gets: string][] = [
  [1, "the donor's last binlog"],
  [0, "no binlog from the donor"],
  [-1, "every binlog of the donor"],
];

/**
 * Rotates node1's binlog a few times, then (re)joins node2 by SST with `max`, and checks the
 * binlogs node2 got and its index. `round` numbers the writes.
 */
async function sstWithMax({ cluster, n1, n2, configs, lap }: Scene, max: number, round: number) {
  for (let i = 0; i < 3; i++) {
    await cluster.writeMore(n1, round * 3 + i + 1, 100);
    await cluster.sql(n1, "FLUSH BINARY LOGS");
  }
  for (const n of [n1, n2]) {
    await configs.rewrite(cluster, n, (e) => ({
      ...e,
      groups: {
        ...e.groups,
        sst: [
          ...(e.groups?.sst ?? []).filter((l) => !l.startsWith("sst-max-binlogs")),
          `sst-max-binlogs=${max}`,
        ],
      },
    }));
  }
  if (n2.running) await cluster.stop(n2);
  await cluster.wipe(n2); // binary logs live elsewhere: the old ones stay until the SST
  const oldJoinerFiles = filesIn(binDir(n2));
  const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: 4 });
  const donorIndex = indexEntries(idxFile(n1), n1.datadir);
  const joinerIndex = indexEntries(idxFile(n2), n2.datadir);
  const why =
    `\ndonor index: ${donorIndex.map(base)}\njoiner index: ${
      joinerIndex.map(base)
    }\njoiner files before: ${oldJoinerFiles}\n` +
    sstLinesOf(r.joinerLog).filter((l) => /WSREP_SST/.test(l)).join("\n");
  assert(joinerIndex.length >= 1, `node2 has a binlog index${why}`);
  for (const e of joinerIndex) {
    assert(e.startsWith(binDir(n2) + "/"), `index entry ${e} is in node2's binlog dir${why}`);
    assert(filesIn(binDir(n2)).includes(base(e)), `index entry ${e} exists${why}`);
  }
  // The last entry is node2's own binlog, opened after the SST.
  const shipped = joinerIndex.slice(0, -1).map(base);
  const expected = max === 0
    ? []
    : max < 0
    ? donorIndex.map(base)
    : donorIndex.slice(-max).map(base);
  assertEquals(shipped, expected, `sst-max-binlogs=${max}: binlogs node2 got${why}`);
  for (const name of shipped) {
    const mine = Deno.readFileSync(`${binDir(n2)}/${name}`);
    const theirs = Deno.readFileSync(`${binDir(n1)}/${name}`);
    assert(isPrefix(mine, theirs) && mine.length > 0, `${name} is a copy of node1's${why}`);
  }
  const unindexed = filesIn(binDir(n2)).filter((f) =>
    /^cluster-bin\.\d+$/.test(f) && !joinerIndex.map(base).includes(f)
  );
  assertEquals(unindexed, [], `sst-max-binlogs=${max}: no stale binlog left on node2${why}`);
  lap(
    `sst-max-binlogs=${max}: node2 got [${shipped}] of [${donorIndex.map(base)}] ` +
      `(${r.seconds.toFixed(1)}s)`,
  );
}

/** Binary logs and their index outside the datadir; one SST per {@link MAX_BINLOGS} row. */
const binlogDirs: LayoutCase = {
  name: "layouts: binary logs and their index in other directories; sst-max-binlogs 1, 0, -1",
  label: "binlogs",
  binlog: false,
  node: async (node) => {
    await makeMysqlDirs(binDir(node), `${node.dir}/binlog-index`);
    return {
      mysqld: [
        `log_bin=${binDir(node)}/cluster-bin`,
        `log_bin_index=${idxFile(node)}`,
        "log_slave_updates=ON",
      ],
    };
  },
  run: async (s) => {
    for (const [round, [max, gets]] of MAX_BINLOGS.entries()) {
      await s.t.step(`sst-max-binlogs=${max}: ${gets}`, () => sstWithMax(s, max, round));
    }
  },
};

// ---------------------------------------------------------------------------------------------

/** log_basename per node with a bare log_bin, and a database named lost+found. */
const basenameAndLostFound: LayoutCase = {
  name: "layouts: log_basename per node with a bare log_bin; a database named lost+found",
  label: "basename",
  binlog: false,
  node: async (node) => {
    // A filesystem lost+found (datadir at a mount point): never copied, never deleted.
    await Deno.mkdir(`${node.datadir}/lost+found`);
    await Deno.writeTextFile(`${node.datadir}/lost+found/#${node.name}`, node.name);
    await chownMysql(`${node.datadir}/lost+found`);
    return {
      mysqld: [
        // A bare log_bin before log_basename: binlogs and index are <basename>-bin.*
        // (after it, mariadbd names the binlogs after the pid file, the index not).
        "log_bin",
        `log_basename=${node.name}`,
        "log_slave_updates=ON",
        // log_basename also resets the error log set before it.
        `log_error=${node.errorLog}`,
      ],
    };
  },
  run: sstOfNode2({
    tables: 5,
    before: async ({ cluster, n1 }) => {
      await cluster.sql(
        n1,
        "CREATE DATABASE `lost+found`; CREATE TABLE `lost+found`.t (id INT PRIMARY KEY," +
          " v VARCHAR(20)) ENGINE=InnoDB; INSERT INTO `lost+found`.t SELECT seq, CONCAT('lf'," +
          " seq) FROM e2e.seq_1_to_100; FLUSH BINARY LOGS",
      );
    },
    after: async ({ cluster, n1, n2 }) => {
      const rows = await cluster.sql(n2, "SELECT COUNT(*) FROM `lost+found`.t");
      assertEquals(rows, [["100"]], "the lost+found database arrived on node2");
      assertEquals(
        filesIn(`${n2.datadir}/lost+found`),
        ["#node2"],
        "node2's own lost+found directory is untouched and got nothing from node1",
      );
      const donorIdx = indexEntries(`${n1.datadir}/node1-bin.index`, n1.datadir).map(base);
      const joinerIdx = indexEntries(`${n2.datadir}/node2-bin.index`, n2.datadir).map(base);
      assert(donorIdx.length >= 2, `node1 logs to node1-bin.*: ${donorIdx}`);
      assertEquals(
        joinerIdx.slice(0, -1),
        donorIdx.slice(-1),
        "node2's index (node2-bin.index) starts with the donor's last binlog",
      );
      assert(
        /^node2-bin\.\d+$/.test(joinerIdx[joinerIdx.length - 1] ?? ""),
        `node2 then logs to its own node2-bin.*: ${joinerIdx}`,
      );
      await cluster.writeMore(n2, 1, 100);
    },
  }),
};

// ---------------------------------------------------------------------------------------------

const spaced = (n: Node) => `${n.dir}/data dir`;

/** A datadir path containing spaces. */
const spacedDatadir: LayoutCase = {
  name: "layouts: a datadir path containing spaces",
  label: "spaces",
  node: async (node, cluster) => {
    await Deno.mkdir(spaced(node));
    if (node.index === 1) await mustRun("cp", ["-a", `${cluster.templateDir}/.`, spaced(node)]);
    await chownMysql(spaced(node));
    return { mysqld: [`datadir="${spaced(node)}"`] };
  },
  run: sstOfNode2({
    tables: 4,
    before: async ({ cluster, n1 }) => {
      const dd = await cluster.sql(n1, "SELECT @@datadir");
      assertEquals(dd, [[`${spaced(n1)}/`]], "node1 runs on the datadir with a space");
    },
    after: ({ n2 }) => {
      assert(
        filesIn(`${spaced(n2)}/e2e`).length > 0 && filesIn(`${n2.datadir}/e2e`).length === 0,
        "the data went to the datadir with the space",
      );
    },
  }),
};

// ---------------------------------------------------------------------------------------------

const KEY_PLUGIN = "/usr/lib/mysql/plugin/file_key_management.so";
const hasKeyPlugin = (() => {
  try {
    return Deno.statSync(KEY_PLUGIN).isFile;
  } catch {
    return false;
  }
})();
const MARKER = "plaintext-marker-7c1e";

/** Data-at-rest encryption: the joiner gets the donor's encrypted pages. */
const encryptionAtRest: LayoutCase = {
  name: "layouts: data-at-rest encryption (file_key_management, encrypted tables and redo log)",
  label: "encryption",
  ignore: !hasKeyPlugin,
  node: async (_node, cluster) => {
    const dir = `${cluster.root}/keys`;
    const file = `${dir}/keys.txt`;
    if (!(await Deno.stat(file).catch(() => null))) {
      await Deno.mkdir(dir, { recursive: true });
      const hex = (n: number) =>
        [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, "0"))
          .join("");
      await Deno.writeTextFile(file, `1;${hex(32)}\n2;${hex(32)}\n`, { mode: 0o600 });
      await chownMysql(dir);
    }
    return {
      mysqld: [
        "plugin_load_add=file_key_management",
        `file_key_management_filename=${file}`,
        "innodb_encrypt_tables=ON",
        "innodb_encrypt_log=ON",
        "innodb_encryption_threads=1",
        "aria_encrypt_tables=ON",
        "encrypt_binlog=ON",
      ],
    };
  },
  run: sstOfNode2({
    tables: 5,
    before: async ({ cluster, n1 }) => {
      await cluster.sql(
        n1,
        `CREATE TABLE e2e.secret (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB;` +
          ` INSERT INTO e2e.secret SELECT seq, '${MARKER}' FROM e2e.seq_1_to_500`,
      );
    },
    after: async ({ cluster, n1, n2 }) => {
      for (const n of [n1, n2]) {
        const enc = await cluster.sql(
          n,
          "SELECT NAME, ENCRYPTION_SCHEME FROM information_schema.INNODB_TABLESPACES_ENCRYPTION" +
            " WHERE NAME IN ('e2e/big', 'e2e/secret') ORDER BY NAME",
        );
        assertEquals(enc, [["e2e/big", "1"], ["e2e/secret", "1"]], `${n.name}: tables encrypted`);
      }
      // The copied files carry no plaintext (they are the donor's encrypted pages).
      const ibd = new TextDecoder("latin1").decode(
        Deno.readFileSync(`${n2.datadir}/e2e/secret.ibd`),
      );
      assert(!ibd.includes(MARKER), "node2's e2e/secret.ibd holds no plaintext row");
    },
  }),
};

// ---------------------------------------------------------------------------------------------

/** Every layout case; each runs on a cluster of its own. */
// ---------------------------------------------------------------------------------------------

/** Where a node keeps its linked schema directory: another "disk" beside its datadir. */
const disk2 = (n: Node) => `${n.dir}/disk2`;

/** Moves `node`'s schema directory `db` to its disk2 and links it from the datadir. */
async function linkSchemaDir(node: Node, db: string): Promise<void> {
  await Deno.rename(`${node.datadir}/${db}`, `${disk2(node)}/${db}`);
  await Deno.symlink(`${disk2(node)}/${db}`, `${node.datadir}/${db}`);
}

function isLink(path: string): boolean {
  return Deno.lstatSync(path).isSymlink;
}

/**
 * A schema directory on another disk, linked from the datadir (as DBAs do): the donor's link
 * must arrive as a directory with the tables in it (rsync sent the link itself, pointing at a
 * path node2 does not have). rsync does not write through links (3.4+ daemons refuse to), so a
 * joiner's own link at that name is replaced by a directory with the data, and said so.
 */
const linkedSchemaDir: LayoutCase = {
  name: "layouts: a schema directory linked to another disk on the donor arrives as a " +
    "directory with its tables; a joiner's own link at that name is replaced by a directory " +
    "holding the data, with a warning",
  label: "linked schema",
  node: async (node) => {
    await makeMysqlDirs(disk2(node));
    return {};
  },
  run: async (scene) => {
    const { cluster, n1, lap } = scene;
    await cluster.sql(
      n1,
      "CREATE DATABASE ghdata;\n" +
        "CREATE TABLE ghdata.t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB;\n" +
        "INSERT INTO ghdata.t SELECT seq, MD5(seq) FROM e2e.seq_1_to_3000",
    );
    await cluster.stop(n1);
    await linkSchemaDir(n1, "ghdata");
    cluster.start(n1, { newCluster: true });
    await cluster.waitSynced(n1, 60_000);
    lap("node1's ghdata is a link to its disk2");
    await sstOfNode2({
      tables: 5,
      after: async ({ cluster, n1, n2 }) => {
        assert(!isLink(`${n2.datadir}/ghdata`), "node2's ghdata arrived as a link");
        assert(filesIn(`${n2.datadir}/ghdata`).includes("t.ibd"), "node2's ghdata has no t.ibd");
        // node2 now links ghdata to its own disk, and joins again by SST.
        await cluster.stop(n2);
        await cluster.wipe(n2);
        await makeMysqlDirs(`${disk2(n2)}/ghdata`);
        await Deno.symlink(`${disk2(n2)}/ghdata`, `${n2.datadir}/ghdata`);
        await cluster.writeMore(n1, 1, 300);
        const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: 5 });
        assert(!isLink(`${n2.datadir}/ghdata`), "node2's own ghdata link is still a link");
        assert(filesIn(`${n2.datadir}/ghdata`).includes("t.ibd"), "node2's ghdata has no t.ibd");
        assert(
          /WSREP_SST: \[WARNING\] .*\/ghdata is a link to .*replaces the link/.test(r.joinerLog),
          "node2's joiner did not warn about its link",
        );
        lap(`node2's own link was replaced by the donor's copy (${r.seconds.toFixed(1)}s)`);
      },
    })(scene);
  },
};

const CASES = [
  engineDirs,
  binlogDirs,
  basenameAndLostFound,
  spacedDatadir,
  encryptionAtRest,
  linkedSchemaDir,
];

for (const c of CASES) clusterTest({ rows: ROWS, ...c });
