/**
 * `[sst] clone` on real clusters: node1's datadir on a loop-mounted file system that clones
 * (XFS `reflink=1`, btrfs; scripts/lib/loop_fs.ts), sysbench `oltp_write_only` at 100
 * transactions/s and DDL running on node1 during the whole SST. Under the lock the donor clones
 * the frozen files, writes `continue` at once and sends from the clones:
 *
 * - XFS, and btrfs with the redo log on a second file system (XFS: one snapshot directory per file
 *   system): after the join every table's checksum equals node1's, node2 restarts, node1's log
 *   splits the lock (`donor writes blocked for … (mariadbd's flush …, clones … for N files)`) and,
 *   when the clones took 0.1 s or more, names the slowest with their pieces (none below), a flush
 *   of mariadbd's of 0.3 s or more on XFS gets the hint naming `innodb_flush_log_at_trx_commit=2`,
 *   the option file that sets it and the binary log's wait (the clusters write a binary log; none
 *   below 0.3 s or on btrfs; the ext4 test below checks the same), and neither `SHOW DATABASES` nor
 *   `information_schema.SCHEMATA` on node1 ever showed the snapshot directory while it existed
 *   (sampled during the SST);
 * - the host's ext4 with `clone=auto`: the locked pass, with the INFO line saying why;
 * - guards: the donor program SIGKILLed during the clone pass leaves its snapshot directory,
 *   which the next SST removes (and says so); a small XFS filled by node1's own writes during
 *   the clone pass: the SST fails with the space error, node1 keeps running and writing, the
 *   clones are deleted (their snapshot directory removed).
 *
 * Needs root (loop mounts), xfsprogs, btrfs-progs, sysbench, and the launcher built by
 * `deno task build`. Runs on the host and in the MariaDB 10.5 and 11.8 roots (scripts/roots.ts
 * installs those packages there; `/dev` is bind-mounted, loop devices included).
 */
import { type Cluster, MYSQL_USER, type Node, withCluster } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals, diffMaps } from "./support/assert.ts";
import { bootstrapWithBulk, stopwatch } from "./support/flows.ts";
import { LAUNCHER_DIR, localhostTls } from "../../scripts/lib/launcher.ts";
import {
  datadirOn,
  type LoopFs,
  type LoopFsType,
  makeLoopFs,
  must,
} from "../../scripts/lib/loop_fs.ts";
import { sysbenchPrepare, sysbenchRun, type SysbenchTables } from "../../scripts/lib/sysbench.ts";
import { record } from "../../scripts/lib/ledger.ts";
import { sleep } from "../../src/proc/process.ts";
import { SNAPSHOT_PREFIX } from "../../src/transfer/snapshot_dir.ts";
import { statFs } from "../../src/proc/statfs.ts";

const BULK_ROWS = 1000; // × 64 KiB off-page blobs ≈ 64 MiB
/** Small images: clones must leave this much free (the default 1 GiB is more than the image). */
const FLOOR = "clone-floor=32M";

/** The file systems of one test, made before the cluster and removed after it. */
async function withImages<T>(
  specs: { type: LoopFsType; mib: number }[],
  fn: (fss: LoopFs[]) => Promise<T>,
): Promise<T> {
  const fss: LoopFs[] = [];
  try {
    for (const s of specs) fss.push(await makeLoopFs(s.type, s.mib));
    return await fn(fss);
  } finally {
    for (const fs of fss.reverse()) await fs.teardown();
  }
}

/** Moves `node`'s redo log to `fs`; returns the `[mysqld]` line that says so. */
async function redoOn(fs: LoopFs, node: Node): Promise<string> {
  await must("mv", [`${node.datadir}/ib_logfile0`, `${fs.dir}/ib_logfile0`]);
  await must("chown", ["-R", `${MYSQL_USER}:${MYSQL_USER}`, fs.dir]);
  return `innodb_log_group_home_dir=${fs.dir}`;
}

/** sysbench's tables on node1: 2 × 20000 rows. */
const SYSBENCH: SysbenchTables = { tables: 2, rows: 20_000 };

/** DDL on node1 in rounds (create, rename, drop a table, rebuild one) until `done()`. */
async function ddlLoop(cluster: Cluster, n: Node, done: () => boolean, schema = "e2e") {
  let rounds = 0;
  const failures: string[] = [];
  const renamed: string[] = [];
  while (!done()) {
    const i = rounds++;
    const q = [
      `CREATE TABLE ${schema}.ddl${i} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`,
      `INSERT INTO ${schema}.ddl${i} VALUES (1, ${i}), (2, ${i})`,
      `RENAME TABLE ${schema}.ddl${i} TO ${schema}.ren${i}`,
      ...(renamed.length > 2 ? [`DROP TABLE ${schema}.${renamed.shift()}`] : []),
      ...(i % 4 === 0 ? ["ALTER TABLE e2e_second.t2 FORCE"] : []),
    ];
    try {
      await cluster.sql(n, q.join(";\n"), 120_000);
      renamed.push(`ren${i}`);
    } catch (e) {
      failures.push(String(e).split("\n")[0]);
    }
    await sleep(100);
  }
  return { rounds, failures };
}

/**
 * Samples node1's databases (`SHOW DATABASES`, `information_schema.SCHEMATA`) and whether a
 * snapshot directory exists in its datadir, until `done()`.
 */
async function watchSnapshot(cluster: Cluster, n: Node, done: () => boolean) {
  let whileThere = 0;
  const shown: string[] = [];
  while (!done()) {
    const there = [...Deno.readDirSync(n.datadir)].some((e) => e.name.startsWith(SNAPSHOT_PREFIX));
    try {
      const rows = [
        ...await cluster.sql(n, "SHOW DATABASES", 10_000),
        ...await cluster.sql(n, "SELECT schema_name FROM information_schema.SCHEMATA", 10_000),
      ];
      const still = [...Deno.readDirSync(n.datadir)].some((e) =>
        e.name.startsWith(SNAPSHOT_PREFIX)
      );
      if (there && still) whileThere++;
      shown.push(...rows.map((r) => r[0]).filter((d) => /wsrep_sst_snapshot/.test(d)));
    } catch { /* the server may be busy under the lock: the next sample */ }
    await sleep(50);
  }
  return { whileThere, shown };
}

/** node1's WSREP_SST lines, for assertion messages. */
function sstLines(cluster: Cluster, n: Node): string {
  return "\n--- node1 ---\n" +
    cluster.logSinceStart(n).split("\n").filter((l) => /WSREP_SST/.test(l)).join("\n");
}

/** The lock line with clones: `donor writes blocked for N s (mariadbd's flush M s, clones K s for F files…)`. */
const CLONED_LOCK =
  /donor writes blocked for ([\d.]+) s \(mariadbd's flush ([\d.]+) s, clones ([\d.]+) s for (\d+) files/;

/**
 * A slow flush of mariadbd's (0.3 s or more) with the clusters' innodb_flush_log_at_trx_commit=2
 * and binary log gets the hint naming the setting, where it was read and the binary log's wait,
 * on XFS and ext4 only (where 1 was measured to help); a quick one, or one on another file
 * system, gets none. Between 0.29 and 0.31 s (rounding) either is accepted.
 */
function checkFlushHint(log1: string, fsType: string | undefined, context: string): void {
  const flush = /donor writes blocked for [\d.]+ s \(mariadbd's flush ([\d.]+) s/.exec(log1);
  assert(flush, `the lock line names mariadbd's flush${context}`);
  const seconds = Number(flush[1]);
  const hint =
    /mariadbd's flush took [\d.]+ s with innodb_flush_log_at_trx_commit=2 \((\S+):\d+ .*\) and the binary log on: it rotates the binary log/
      .exec(log1);
  const hinted = fsType === "xfs" || fsType === "ext4";
  if (hinted && seconds >= 0.31) assert(hint, `a slow flush gets the hint${context}`);
  if (!hinted || seconds <= 0.29) {
    assertEquals(hint, null, `a quick flush, or one on ${fsType}, gets none${context}`);
  }
}

/** node1's file systems and the `[sst]` lines of a clone test's cluster. */
interface DonorOn {
  /** node1's datadir goes there. */
  datadir: LoopFs;
  /** node1's InnoDB redo log goes there, if given (a split layout). */
  redo?: LoopFs;
  sst: string[];
  /** node1's extra `wsrep_provider_options`. */
  providerOptions?: string[];
}

/**
 * A 2-node cluster (TLS, `on.sst`) whose node1 keeps its datadir, and its redo log if asked, on
 * the given file systems; they are unmounted from node1's paths when `fn` ends, however it ends.
 */
async function withDonorOn(on: DonorOn, fn: (cluster: Cluster) => Promise<void>): Promise<void> {
  const unmount: (() => Promise<void>)[] = [];
  const pki = localhostTls(on.sst);
  await withCluster({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    configure: async (node, cluster) => {
      const tls = await pki(node, cluster);
      if (node.index !== 1) return tls;
      const mysqld = on.redo ? [await redoOn(on.redo, node)] : [];
      unmount.push(await datadirOn(on.datadir, node));
      return { ...tls, mysqld, providerOptions: on.providerOptions ?? [] };
    },
  }, async (cluster) => {
    try {
      await fn(cluster);
    } finally {
      for (const u of unmount) await u();
    }
  });
}

/**
 * One SST from node1 (datadir on `fss[0]`, redo on `fss[1]` if given) to node2 with sysbench
 * and DDL on node1 throughout, then the checks of the module documentation.
 */
async function clonedSstUnderLoad(
  fss: LoopFs[],
  sst: string[],
  load: { bulkRows: number; sysbench: SysbenchTables; ddlSchema?: string } = {
    bulkRows: BULK_ROWS,
    sysbench: SYSBENCH,
  },
): Promise<string> {
  let donorLog = "";
  await withDonorOn({ datadir: fss[0], redo: fss[1], sst }, async (cluster) => {
    const lap = stopwatch();
    const [n1, n2] = cluster.nodes;
    await bootstrapWithBulk(cluster, load.bulkRows);
    await sysbenchPrepare(cluster, n1, load.sysbench);
    lap(`node1 bootstrapped on ${fss.map((f) => f.type).join(" + ")}`);

    const bench = sysbenchRun(n1, load.sysbench, { rate: 100, threads: 2, ignoreErrors: "all" });
    await sleep(1000);
    let synced = false;
    const ddl = ddlLoop(cluster, n1, () => synced, load.ddlSchema);
    const sampled = watchSnapshot(cluster, n1, () => synced);
    cluster.start(n2);
    try {
      await cluster.waitSynced(n2, 120_000);
    } finally {
      synced = true;
    }
    const [d, s, busy] = [await ddl, await sampled, (await bench.stop()).busySeconds];
    lap(
      `node2 synced; sysbench wrote in ${busy} s, ${d.rounds} DDL rounds (${d.failures.length} ` +
        `failed${d.failures.length ? `: ${d.failures[0]}` : ""}), ${s.whileThere} samples ` +
        "while the snapshot existed",
    );
    const log1 = cluster.logSinceStart(n1);
    donorLog = log1;
    const context = sstLines(cluster, n1);
    assertEquals(cluster.joinType(n2), "SST", `node2 joined by SST${context}`);
    const lock = CLONED_LOCK.exec(log1);
    assert(lock && Number(lock[4]) > 0, `the lock line shows the clones${context}`);
    lap(lock[0]);
    assert(
      new RegExp(`SST totals on donor: complete .*; ${lock![0].replace(/[().]/g, "\\$&")}`)
        .test(log1),
      `the final line carries the same figures${context}`,
    );
    assert(/clone (delta )?pass \(from the clones\): copied|compared/.test(log1), context);
    checkFlushHint(log1, fss[0].type, context);
    // Slow clones (0.1 s or more in all) are named with the pieces their files are in.
    const slow = /clones took [\d.]+ s; slowest: (.*)/.exec(log1);
    const cloneSeconds = Number(lock[3]);
    if (cloneSeconds >= 0.11) assert(slow, `the slowest clones are named${context}`);
    if (cloneSeconds <= 0.09) assertEquals(slow, null, `fast clones are not named${context}`);
    if (slow) assert(/^\/\S+ [\d.]+ s\b.* \(\d+ pieces\)/.test(slow[1]), slow[0]);
    const snapshotDirs = fss[1] ? 2 : 1;
    const planLine = /clones: (.*)/.exec(log1)?.[1] ?? "";
    assertEquals(
      (planLine.match(/\): clone(?=;| \(\d{8} )/g) ?? []).length,
      snapshotDirs,
      `one snapshot directory per file system${context}`,
    );
    assert(busy >= 3, `sysbench wrote during the SST (${busy} s)`);
    assert(d.rounds >= 3, `DDL ran during the SST (${d.rounds} rounds)`);
    assert(s.whileThere >= 1, `node1's databases were sampled while the snapshot existed`);
    assertEquals(s.shown, [], "the snapshot directory is never shown as a database");
    for (const fs of fss) {
      const left = [...Deno.readDirSync(fs.dir)].filter((e) => e.name.startsWith(SNAPSHOT_PREFIX));
      assertEquals(left.map((e) => e.name), [], `no snapshot directory left on ${fs.type}`);
    }

    await cluster.waitCaughtUp();
    const [c1, c2] = [await cluster.checksums(n1), await cluster.checksums(n2)];
    assertEquals(diffMaps(c2, c1), [], "node2's tables and checksums equal node1's");
    assert("sbtest.sbtest1" in c1, "the sysbench tables are compared");
    await cluster.stop(n2);
    cluster.start(n2);
    await cluster.waitSynced(n2, 90_000);
    await cluster.waitCaughtUp();
    assertEquals(
      diffMaps(await cluster.checksums(n2), await cluster.checksums(n1)),
      [],
      "after a restart",
    );
    lap("node2 restarted cleanly");
  });
  return donorLog;
}

Deno.test("clone=on, datadir on XFS (reflink=1), sysbench and DDL on the donor throughout: the lock splits into mariadbd's flush and the clones, the snapshot is never a database, node2's checksums equal node1's and it restarts", () =>
  withImages(
    [{ type: "xfs", mib: 1024 }],
    (fss) => clonedSstUnderLoad(fss, ["clone=on", FLOOR, "precopy=off", "bwlimit=30M"]),
  ).then(() => {}));

Deno.test("clone=on, datadir on XFS, sysbench's schema (6 tables, about 200 MiB) holding most of the data, sysbench and DDL in that schema throughout: it is sent from the clones in shares, node2's checksums equal node1's and it restarts", async () => {
  // Three streams and no binary log shipped: on 10.5 the system tablespace (undo) and the
  // binary log that sysbench's load filled hold about as much as its schema.
  const sst = ["clone=on", FLOOR, "precopy=off", "backup-threads=3", "sst-max-binlogs=0"];
  const log = await withImages(
    [{ type: "xfs", mib: 1024 }],
    (fss) =>
      clonedSstUnderLoad(fss, sst, {
        bulkRows: 16,
        sysbench: { tables: 6, rows: 100_000 },
        ddlSchema: "sbtest",
      }),
  );
  assert(
    /schema directory sbtest \([\d.]+ MiB\) holds most of the data: sent in 3 shares/.test(log),
    `sbtest went in three shares:\n${
      log.split("\n").filter((l) => l.includes("WSREP_SST")).join("\n")
    }`,
  );
});

Deno.test("clone=on with a pre-copy, datadir on btrfs and the redo log on XFS, sysbench and DDL on the donor throughout: one snapshot directory per file system, node2's checksums equal node1's and it restarts", () =>
  withImages(
    [{ type: "btrfs", mib: 1024 }, { type: "xfs", mib: 320 }],
    (fss) => clonedSstUnderLoad(fss, ["clone=on", FLOOR, "precopy=on", "bwlimit=30M"]),
  ).then(() => {}));

Deno.test("clone=auto on the host's ext4: the probe says why not, and the locked pass sends the data", () =>
  withCluster({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    configure: localhostTls(["clone=auto", "precopy=off"]),
  }, async (cluster) => {
    const [n1, n2] = cluster.nodes;
    await bootstrapWithBulk(cluster, 200);
    const fsType = statFs(n1.datadir)?.type;
    cluster.start(n2);
    await cluster.waitSynced(n2, 90_000);
    const log1 = cluster.logSinceStart(n1);
    const context = sstLines(cluster, n1);
    assert(
      /clones: datadir.*: locked copy \(.*(does not support clones|refuses to clone).*\)/.test(
        log1,
      ),
      `the INFO line says the ${fsType} datadir cannot clone${context}`,
    );
    assert(/locked pass: copied/.test(log1), `the locked pass sent the data${context}`);
    assert(
      /donor writes blocked for [\d.]+ s \(mariadbd's flush [\d.]+ s, locked pass [\d.]+ s\)/
        .test(log1),
      `the lock line names the locked pass${context}`,
    );
    checkFlushHint(log1, fsType, context);
    await cluster.waitCaughtUp();
    assertEquals(
      diffMaps(await cluster.checksums(n2), await cluster.checksums(n1)),
      [],
      "node2 equals node1",
    );
  }));

/** Waits until node1's log matches `re`, bounded. */
async function waitLog(cluster: Cluster, n: Node, re: RegExp, ms: number): Promise<string> {
  for (let waited = 0; waited < ms; waited += 100) {
    const log = cluster.logSinceStart(n);
    if (re.test(log)) return log;
    await sleep(100);
  }
  throw new Error(`node1's log never matched ${re}${sstLines(cluster, n)}`);
}

/** The running donor program of `n` (mariadbd runs it through `sh -c`). */
function donorProgram(cluster: Cluster, n: Node): number | null {
  return cluster.helpers(n).find((p) =>
    /wsrep_sst_rsync_tunnel/.test(p.cmdline) && /--role donor/.test(p.cmdline) &&
    !/^(\/bin\/)?sh /.test(p.cmdline)
  )?.pid ?? null;
}

Deno.test("clone guard: the donor program SIGKILLed during the clone pass leaves its snapshot directory; the next SST removes it and says so", () =>
  withImages([{ type: "xfs", mib: 1024 }], async ([fs]) => {
    const sst = ["clone=on", FLOOR, "precopy=off", "bwlimit=4M"];
    await withDonorOn({ datadir: fs, sst }, async (cluster) => {
      const problems: string[] = [];
      const [n1, n2] = cluster.nodes;
      await bootstrapWithBulk(cluster, 300);
      cluster.start(n2);
      await waitLog(cluster, n1, /clone pass \(from the clones\): \d+ parts/, 90_000);
      const snapshots = () =>
        [...Deno.readDirSync(n1.datadir)].filter((e) => e.name.startsWith(SNAPSHOT_PREFIX))
          .map((e) => e.name);
      const pid = donorProgram(cluster, n1);
      assert(pid !== null, `the donor program runs${sstLines(cluster, n1)}`);
      Deno.kill(pid, "SIGKILL");
      await cluster.kill(n2);
      await cluster.waitHelpersGone(n2, 20_000);
      await sleep(1000);
      const left = snapshots();
      if (left.length !== 1) problems.push(`snapshot directories after the kill: ${left}`);
      await cluster.waitHelpersGone(n1, 20_000);
      cluster.start(n2);
      await cluster.waitSynced(n2, 120_000);
      const log1 = cluster.logSinceStart(n1);
      if (
        !new RegExp(
          `removed snapshot directory \\S*${left[0]?.replace(/[.]/g, "\\.")} left by a killed SST`,
        ).test(log1)
      ) {
        problems.push("the next SST does not say it removed the snapshot directory");
      }
      if (snapshots().length !== 0) problems.push(`left after the next SST: ${snapshots()}`);
      await cluster.waitCaughtUp();
      const [c1, c2] = [await cluster.checksums(n1), await cluster.checksums(n2)];
      if (JSON.stringify(c1) !== JSON.stringify(c2)) problems.push("checksums differ");
      record({
        kind: "fault",
        name: "e2e: donor program SIGKILLed during the clone pass (snapshot removed next SST)",
        ok: problems.length === 0,
        detail: problems.join("; ") || undefined,
      });
      assertEquals(problems, [], sstLines(cluster, n1));
    });
  }));

Deno.test("clone guard: node1's own writes fill its small XFS during the clone pass: the SST fails with the space error, the clones are dropped (their snapshot directory removed), node1 keeps running and writing", () =>
  withImages([{ type: "xfs", mib: 512 }], async ([fs]) => {
    const sst = ["clone=on", "precopy=off", "bwlimit=3M"];
    // Galera's gcache pages (written while the donor's ring buffer is held for the SST) grow
    // 8 MiB at a time instead of 128 MiB.
    const providerOptions = ["gcache.page_size=8M"];
    await withDonorOn({ datadir: fs, sst, providerOptions }, async (cluster) => {
      const problems: string[] = [];
      const [n1, n2] = cluster.nodes;
      await bootstrapWithBulk(cluster, 300);
      const free = () => statFs(fs.dir)?.available ?? 0;
      const mib = (n: number) => Math.floor(n / 1024 ** 2);
      const before = free();
      // The floor 60 MiB below what is free now: clones are allowed, and node1's writes
      // during the clone pass cross it (the [sst] group is the option file's last).
      await Deno.writeTextFile(n1.cnf, `clone-floor=${mib(before) - 60}M\n`, { append: true });
      cluster.start(n2);
      await waitLog(cluster, n1, /clone pass \(from the clones\): \d+ parts/, 90_000);
      // node1 writes new tables (3.75 MiB of blobs each, about as much again in its binary
      // log and gcache) until the guard fires, at most 150 MiB of rows.
      const guard = /free space on the file system of .* fell to ([\d.]+) MiB.*clones were dropped/;
      let fired: RegExpExecArray | null = null;
      for (let i = 0; i < 40 && !fired; i++) {
        await cluster.sql(
          n1,
          `CREATE TABLE e2e.fill${i} (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB;\n` +
            `INSERT INTO e2e.fill${i} SELECT seq, REPEAT(MD5(seq + ${i}), 2048) ` +
            "FROM e2e.seq_1_to_60",
          60_000,
        ).catch((e) => {
          // Once the guard fired, node2 gives up and leaves: a commit in flight during that
          // view change fails (ERROR 1180, error 6 during COMMIT). Anything else is a failure.
          if (!(guard.test(cluster.logSinceStart(n1)) && /ERROR 1180 /.test(String(e)))) throw e;
        });
        await sleep(300);
        fired = guard.exec(cluster.logSinceStart(n1));
      }
      await waitLog(cluster, n1, /WSREP_SST: \[ERROR\]/, 30_000).catch(() => "");
      await cluster.waitHelpersGone(n1, 20_000);
      const log1 = cluster.logSinceStart(n1);
      const after = free();
      if (!fired) problems.push("the space guard did not fire");
      if (/SST complete on donor/.test(log1)) problems.push("the donor completed the SST");
      if (!/WSREP_SST: \[ERROR\] free space on the file system of/.test(log1)) {
        problems.push("the donor's error is not the space error");
      }
      const left = [...Deno.readDirSync(n1.datadir)].filter((e) =>
        e.name.startsWith(SNAPSHOT_PREFIX)
      );
      if (left.length > 0) problems.push(`snapshot directory left: ${left[0].name}`);
      // No free-space comparison here: node1 keeps writing after the guard fires (the rest of
      // the fill round, binary log, gcache, delayed page writes), which can take more than the
      // few blocks the clones had diverged by then (seen 273 MiB after, 276.6 when it fired).
      // The clones' space is given back when their directory is gone (checked above).
      if (!n1.running) problems.push("node1 stopped");
      await cluster.sql(n1, "INSERT INTO e2e.big VALUES (9999999, 1, 'after the guard')")
        .catch((e) => problems.push(`node1 does not take writes: ${e}`));
      const figures = `free ${mib(before)} MiB before the SST, ${fired?.[1] ?? "?"} MiB when ` +
        `the guard fired, ${mib(after)} MiB after the clones were dropped`;
      record({
        kind: "fault",
        name: "e2e: donor's file system filling during the clone pass (clones dropped)",
        ok: problems.length === 0,
        detail: problems.join("; ") || figures,
      });
      assertEquals(problems, [], `${figures}${sstLines(cluster, n1)}`);
      console.log(figures);
    });
  }));
