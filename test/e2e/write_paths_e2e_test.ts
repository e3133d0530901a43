/**
 * The pre-copy record sees the writes of a real server. After the record is taken (as our
 * donor takes it before its hot pass) over a datadir whose files were all last written long
 * ago, node1 writes through each path its engines use: InnoDB's page flush (O_DIRECT with the
 * native AIO the server was built with: io_uring or Linux AIO), its redo log, Aria's data,
 * index and log files, and the binary log and its index. The record must then refuse every
 * file written that way (the locked pass compares it) and still vouch for a table nobody
 * wrote, which proves it can say yes.
 *
 * test/integration/write_paths_test.ts drives each system call itself; this is the server.
 *
 * Needs the launcher built by `deno task build` (not used here: the cluster layout asks for it).
 */
import { withCluster } from "../../scripts/lib/cluster.ts";
import { assert } from "./support/assert.ts";
import { LAUNCHER_DIR } from "../../scripts/lib/launcher.ts";
import { PrecopyRecord, UNCHANGED_MARGIN_MS } from "../../src/transfer/precopy_record.ts";
import type { RsyncJob } from "../../src/transfer/passes.ts";
import { TreeWalk } from "../../src/transfer/selection.ts";

/** Every regular file of `dir`, stat'ed now. */
function files(dir: string) {
  return new TreeWalk().files({ kind: "trees" }, [dir]);
}

Deno.test("pre-copy record on a real server: InnoDB page flushes, the redo log, Aria and the binary log are all seen; an untouched table is vouched for", () =>
  withCluster({ size: 2, sstMethod: "rsync_tunnel", pathPrefix: LAUNCHER_DIR }, async (cluster) => {
    const n1 = cluster.node(1);
    cluster.start(n1, { newCluster: true });
    await cluster.waitSynced(n1, 60_000);
    await cluster.sql(
      n1,
      [
        "CREATE DATABASE wp",
        "CREATE TABLE wp.inno (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB",
        "CREATE TABLE wp.cold (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB",
        "CREATE TABLE wp.aria (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=Aria",
        "INSERT INTO wp.inno SELECT seq, REPEAT('i', 200) FROM wp.seq_1_to_2000",
        "INSERT INTO wp.cold SELECT seq, REPEAT('c', 200) FROM wp.seq_1_to_2000",
        "INSERT INTO wp.aria SELECT seq, REPEAT('a', 200) FROM wp.seq_1_to_2000",
        // Every page of both InnoDB tables on disk now, so nothing is left to flush later.
        "FLUSH TABLES wp.inno, wp.cold FOR EXPORT",
        "UNLOCK TABLES",
        "FLUSH TABLES",
      ].join(";\n"),
    );
    const dd = n1.datadir;
    const old = new Date(Date.now() - 2 * UNCHANGED_MARGIN_MS);
    for (const f of await files(dd)) await Deno.utime(f.path, old, old);
    const binlogBefore = (await cluster.sql(n1, "SHOW MASTER STATUS"))[0][0];
    const job: RsyncJob = {
      label: "datadir",
      selection: { kind: "trees" },
      options: [],
      sources: [dd],
      module: "datadir",
    };
    const record = await PrecopyRecord.take(new TreeWalk(), [job]);
    record.ended(job);

    await cluster.sql(
      n1,
      [
        "UPDATE wp.inno SET v = REPEAT('j', 200) WHERE id % 7 = 0",
        "FLUSH TABLES wp.inno FOR EXPORT",
        "UNLOCK TABLES",
        "INSERT INTO wp.aria SELECT seq, 'new' FROM wp.seq_2001_to_3000",
        "FLUSH TABLES wp.aria",
        "FLUSH BINARY LOGS",
      ].join(";\n"),
    );
    const now = await files(dd);
    const mapped = new Set<string>();
    const verdict = (name: string) => {
      const f = now.find((x) => x.path === `${dd}/${name}`);
      assert(f, `${name} exists`);
      return record.vouchesFor(f, mapped);
    };
    const aio = /Using (liburing|Linux native AIO)/.exec(cluster.logSinceStart(n1))?.[0] ??
      "no native AIO line in the log";
    const written = [
      "wp/inno.ibd",
      "ib_logfile0",
      "wp/aria.MAD",
      "wp/aria.MAI",
      "aria_log.00000001",
      binlogBefore,
      "mysql-bin.index",
    ];
    for (const name of written) {
      assert(
        !verdict(name),
        `${name}, written by the server after the record, is vouched for (${aio})`,
      );
    }
    assert(verdict("wp/cold.ibd"), "wp/cold.ibd, untouched, is vouched for");
    assert(verdict("wp/cold.frm"), "wp/cold.frm, untouched, is vouched for");
  }));
