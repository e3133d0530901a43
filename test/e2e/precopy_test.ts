/**
 * `[sst] precopy=on` on a real cluster with a busy donor: while node2's SST copies node1's data
 * hot (the server still takes writes), a writer on node1 inserts, updates and deletes rows,
 * rebuilds a table (`ALTER TABLE … FORCE`: its `.ibd` is replaced), creates, renames and drops
 * tables, creates a schema and rotates the binary log. The locked delta pass must bring node2's
 * copy to the locked state: after the join every table's checksum equals node1's (dropped tables
 * gone, renamed ones there), and node2 restarts cleanly.
 *
 * Only InnoDB data is written during the SST: Galera does not replicate MyISAM (nor, before
 * 10.6, Aria) writes, so such writes made after the lock could never reach node2.
 *
 * Needs the launcher built by `deno task build`.
 */
import { type Cluster, type Node, withCluster } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals, diffMaps } from "./support/assert.ts";
import { bootstrapWithBulk, stopwatch } from "./support/flows.ts";
import { LAUNCHER_DIR, localhostTls } from "../../scripts/lib/launcher.ts";
import { sleep } from "../../src/proc/process.ts";
import { UNCHANGED_MARGIN_MS } from "../../src/transfer/precopy_record.ts";

const BULK_ROWS = 1600; // × 64 KiB off-page blobs ≈ 100 MiB, copied hot at the capped rate

/** What the writer has created so far. */
interface WriterState {
  created: string[];
  renamed: string[];
  newSchema: boolean;
}

/**
 * One writer round on node1: InnoDB DML on every test table, and (with `ddl`) DDL in turn.
 */
function round(i: number, w: WriterState, ddl: boolean): string[] {
  const q = [
    `INSERT INTO e2e.big SELECT ${2_000_000 + i * 10} + seq, seq, 'hot ${i}' FROM e2e.seq_1_to_10`,
    `UPDATE e2e.big SET pad = 'upd ${i}' WHERE id % 97 = ${i % 97} AND id < 1000000`,
    `DELETE FROM e2e.big WHERE id % 101 = ${i % 101} AND id < 1000000`,
    `UPDATE e2e_second.t2 SET v = CONCAT(v, '${i}') WHERE id % 10 = ${i % 10}`,
    `UPDATE e2e.bulk SET b = REPEAT(MD5(${i}), 2048) WHERE id % 53 = ${i % 53}`,
  ];
  if (w.newSchema) q.push(`INSERT INTO e2e_new.t VALUES (${i}, 'round ${i}')`);
  if (!ddl) return q;
  if (i % 4 === 0) q.push("ALTER TABLE e2e_second.t2 FORCE");
  if (i % 3 === 0) {
    w.created.push(`tmp${i}`);
    q.push(`CREATE TABLE e2e.tmp${i} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`);
    q.push(`INSERT INTO e2e.tmp${i} VALUES (1, ${i}), (2, ${i})`);
  } else if (i % 3 === 1 && w.created.length > 0) {
    const t = w.created.shift()!;
    w.renamed.push(`ren_${t}`);
    q.push(`RENAME TABLE e2e.${t} TO e2e.ren_${t}`);
  } else if (w.renamed.length > 1) {
    q.push(`DROP TABLE e2e.${w.renamed.shift()}`);
  }
  if (!w.newSchema) {
    w.newSchema = true;
    q.push("CREATE DATABASE e2e_new");
    q.push("CREATE TABLE e2e_new.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB");
  }
  if (i % 5 === 0) q.push("FLUSH BINARY LOGS");
  return q;
}

/**
 * Writes on `n1` from the start of our donor's hot pass until `done()`. (Not earlier: MariaDB
 * 10.5 fails an SST request that races DDL, before our donor even starts.) Counts the rounds
 * that completed while the hot pass was copying; a round that fails (the server may kill a
 * client while it changes state) is counted too, and the next one goes on.
 */
async function busyDonor(cluster: Cluster, n1: Node, done: () => boolean) {
  const state: WriterState = { created: [], renamed: [], newSchema: false };
  const hotPass = /hot pre-copy \(the server takes writes\): \d+ parts/;
  let rounds = 0;
  let duringHotPass = 0;
  const failures: string[] = [];
  while (!done() && !hotPass.test(cluster.logSinceStart(n1))) await sleep(20);
  while (!done()) {
    const log = cluster.logSinceStart(n1);
    const hot = !/tables flushed and locked/.test(log);
    // DDL only while the hot pass copies: DDL in flight when mariadbd takes its lock can make
    // FLUSH TABLES WITH READ LOCK fail (the SST then fails cleanly, as with any rsync SST).
    const ddl = !/hot pre-copy \(the server takes writes\): copied/.test(log);
    try {
      await cluster.sql(n1, round(rounds++, state, ddl).join(";\n"), 120_000);
      if (hot) duringHotPass++;
    } catch (e) {
      failures.push(String(e).split("\n")[0]);
    }
    await sleep(50);
  }
  return { rounds, duringHotPass, renamed: state.renamed, failures };
}

/**
 * A schema nobody writes during the SST, its pages on disk and its files dated long before the
 * pre-copy (as a table last written hours ago): the locked pass may skip its files, and the
 * checksums prove that skipping them loses nothing.
 */
async function coldSchema(cluster: Cluster, n1: Node): Promise<void> {
  await cluster.sql(
    n1,
    [
      "CREATE DATABASE e2e_cold",
      "CREATE TABLE e2e_cold.t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB",
      "INSERT INTO e2e_cold.t SELECT seq, MD5(seq) FROM e2e.seq_1_to_5000",
      "FLUSH TABLES e2e_cold.t FOR EXPORT",
      "UNLOCK TABLES",
    ].join(";\n"),
  );
  const old = new Date(Date.now() - 2 * UNCHANGED_MARGIN_MS);
  for await (const e of Deno.readDir(`${n1.datadir}/e2e_cold`)) {
    await Deno.utime(`${n1.datadir}/e2e_cold/${e.name}`, old, old);
  }
}

Deno.test("precopy=on with writes and DDL on the donor during the hot pass: node2's tables equal node1's after the join, and node2 restarts cleanly", () =>
  withCluster({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    configure: localhostTls(["precopy=on", "bwlimit=11M"]),
  }, async (cluster) => {
    const lap = stopwatch();
    const [n1, n2] = cluster.nodes;
    await bootstrapWithBulk(cluster, BULK_ROWS);
    await coldSchema(cluster, n1);
    lap("node1 bootstrapped with ~100 MiB and a cold schema");

    cluster.start(n2);
    let synced = false;
    const writer = busyDonor(cluster, n1, () => synced);
    try {
      await cluster.waitSynced(n2, 180_000);
    } finally {
      synced = true;
    }
    const w = await writer;
    lap(
      `node2 synced; ${w.rounds} writer rounds, ${w.duringHotPass} during the hot pass, ` +
        `${w.failures.length} failed${w.failures.length ? `: ${w.failures[0]}` : ""}`,
    );

    const log1 = cluster.logSinceStart(n1);
    const context = `\n--- node1 ---\n${
      log1.split("\n").filter((l) => /WSREP_SST/.test(l))
        .join("\n")
    }`;
    assertEquals(cluster.joinType(n2), "SST", `node2 joined by SST${context}`);
    assert(/locked delta pass: compared/.test(log1), `the donor ran a delta pass${context}`);
    assert(/donor writes blocked for [\d.]+ s/.test(log1), `the lock time is logged${context}`);
    // Both sides name the two passes; each ends with one totals line naming them.
    const log2 = cluster.logSinceStart(n2);
    const both = `${context}\n--- node2 ---\n${
      log2.split("\n").filter((l) => /WSREP_SST/.test(l)).join("\n")
    }`;
    assert(
      /\] hot pre-copy: copied .* \(100 %\)/.test(log1) &&
        /\] locked delta pass: compared .* \(100 %\)/.test(log1),
      `the donor's progress lines name both passes${both}`,
    );
    assert(
      /\] hot pre-copy: the donor sends /.test(log2) &&
        /\] locked delta pass: the donor compares /.test(log2) &&
        /\] locked delta pass: done /.test(log2),
      `the joiner's progress lines name both passes${both}`,
    );
    assert(
      /SST totals on donor: complete in .*passes: hot pre-copy \((whole files|delta), .*\), locked delta pass \(delta, compared .*donor writes blocked for [\d.]+ s/
        .test(log1) && log1.split("SST totals on donor:").length === 2,
      `one totals line on the donor${both}`,
    );
    assert(
      /SST totals on joiner: complete in .*passes the donor announced: hot pre-copy, locked delta pass/
        .test(log2) && log2.split("SST totals on joiner:").length === 2,
      `one totals line on the joiner${both}`,
    );
    const skipped = /locked delta pass: (\d+) file\(s\), .* unchanged since the pre-copy/.exec(
      log1,
    );
    // Last in the message: CI shows the end of a failure's output.
    const tolerated = log1.split("\n").filter((l) => /rsync error\(s\) tolerated/.test(l));
    const leftOut = log1.split("\n").find((l) => /unchanged since the pre-copy/.test(l));
    assert(
      skipped && Number(skipped[1]) >= 2,
      `the cold table is not read under the lock${context}\n--- the hot pass's tolerated errors ---\n${
        tolerated.join("\n") || "none"
      }\n--- the line that says what was left out, and why the rest was compared ---\n${
        leftOut ?? "none"
      }`,
    );

    assert(w.duringHotPass >= 2, `only ${w.duringHotPass} writer rounds in the hot pass`);

    await cluster.waitCaughtUp();
    const [c1, c2] = [await cluster.checksums(n1), await cluster.checksums(n2)];
    assertEquals(diffMaps(c2, c1), [], "node2's tables and checksums equal node1's");
    assert("e2e_new.t" in c1, "the schema created during the SST is there");
    assert("e2e_cold.t" in c1, "the cold table is among the compared ones");
    for (const t of w.renamed) assert(`e2e.${t}` in c2, `renamed table ${t} is there`);

    await cluster.stop(n2);
    cluster.start(n2);
    await cluster.waitSynced(n2, 90_000);
    assertEquals(await cluster.checksums(n2), c1, "node2 after its restart");
    lap("node2 restarted cleanly");
  }));
