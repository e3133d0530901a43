/**
 * Issue 23, item 2 on a real cluster: tables created on the donor with `DATA DIRECTORY`.
 *
 * An InnoDB table there keeps its `.ibd` outside the datadir, and only its `.isl` pointer would
 * travel: node2 would start with the table missing ("Tablespace is missing for a table"). The
 * donor must refuse before mariadbd flushes its tables, with one ERROR naming the table, its
 * path and the fix; node2's SST fails with the same reason in its own log, and node1 carries on.
 * After the fix the message gives (`CREATE TABLE … LIKE` leaves `DATA DIRECTORY` out), node2
 * joins; a MyISAM table with `DATA DIRECTORY`/`INDEX DIRECTORY` (links in the schema directory)
 * arrives whole as regular files and reads the same on both nodes, with one WARNING on the donor.
 *
 * Needs the launcher built by `deno task build`.
 */
import { chownMysql, withCluster } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { stopwatch } from "./support/flows.ts";
import { LAUNCHER_DIR, localhostTls, requireLauncher } from "../../scripts/lib/launcher.ts";
import { record } from "../../scripts/lib/ledger.ts";
import { sleep } from "../../src/proc/process.ts";

function sstLines(log: string, level: string): string[] {
  return log.split("\n").filter((l) => l.includes(`WSREP_SST: [${level}]`));
}

Deno.test("DATA DIRECTORY on a real cluster: an InnoDB table outside the datadir is refused before flush tables, both logs name it and the fix; after the fix the SST works and a MyISAM table with DATA/INDEX DIRECTORY arrives whole", async () => {
  await requireLauncher();
  await withCluster({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    configure: localhostTls(),
  }, async (cluster) => {
    const lap = stopwatch();
    const [n1, n2] = cluster.nodes;
    const far = `${cluster.root}/far-disk`;
    await Deno.mkdir(far);
    await chownMysql(far);
    cluster.start(n1, { newCluster: true });
    await cluster.waitSynced(n1);
    await cluster.sql(
      n1,
      "CREATE DATABASE dd; " +
        `CREATE TABLE dd.far (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB DATA DIRECTORY='${far}'; ` +
        "INSERT INTO dd.far VALUES (1, 'one'), (2, 'two'); " +
        "CREATE TABLE dd.near (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO dd.near VALUES (1); " +
        "CREATE TABLE dd.mine (id INT, v VARCHAR(20)) ENGINE=MyISAM " +
        `DATA DIRECTORY='${far}' INDEX DIRECTORY='${far}'; ` +
        "INSERT INTO dd.mine VALUES (1, 'm1'), (2, 'm2')",
    );
    assert(Deno.lstatSync(`${n1.datadir}/dd/far.isl`).isFile, "no .isl on node1");
    assert(Deno.lstatSync(`${n1.datadir}/dd/mine.MYD`).isSymlink, "mine.MYD is no link");
    lap("node1 bootstrapped with dd.far (InnoDB) and dd.mine (MyISAM) in another directory");

    // 1. Refused: before flush tables, the reason in both logs, node1 carries on.
    cluster.start(n2);
    const deadline = Date.now() + 60_000;
    while (n2.running && Date.now() < deadline) await sleep(250);
    assert(!n2.running, "node2 still runs 60 s after its SST started");
    await cluster.waitHelpersGone(n2, 15_000);
    await cluster.waitHelpersGone(n1, 15_000);
    const d = cluster.logSinceStart(n1);
    const j = cluster.logSinceStart(n2);
    lap("node2's SST failed");
    const named = `dd.far (${far}/dd/far.ibd)`;
    const dErrors = sstLines(d, "ERROR");
    const refused = dErrors.length === 1 && dErrors[0].includes(named) &&
      dErrors[0].includes("CREATE TABLE t_new LIKE t") && !/Flushing tables for SST/.test(d) &&
      !/tables flushed and locked/.test(d) && /SST sending failed/.test(d) &&
      sstLines(j, "ERROR").some((l) =>
        l.includes(`the donor refused this SST: `) && l.includes(named)
      );
    record({
      kind: "config-refusal",
      name: "donor: InnoDB table with DATA DIRECTORY on a real cluster",
      ok: refused,
      detail: [...dErrors, ...sstLines(j, "ERROR")].join(" | ").slice(0, 400),
    });
    assertEquals(dErrors.length, 1, `donor WSREP_SST errors:\n${d}`);
    assert(dErrors[0].includes(named), dErrors[0]);
    assert(dErrors[0].includes("CREATE TABLE t_new LIKE t"), dErrors[0]);
    assert(!/Flushing tables for SST|tables flushed and locked/.test(d), `node1 flushed:\n${d}`);
    assert(/SST sending failed/.test(d), `node1's server did not report the failure:\n${d}`);
    assert(
      sstLines(j, "ERROR").some((l) =>
        l.includes("the donor refused this SST: ") && l.includes(named)
      ),
      `node2's log does not give the donor's reason:\n${j}`,
    );
    await cluster.waitSynced(n1, 30_000);

    // 2. The fix the message gives, then the SST works and the MyISAM table arrives whole.
    await cluster.sql(
      n1,
      "CREATE TABLE dd.far_new LIKE dd.far; INSERT INTO dd.far_new SELECT * FROM dd.far; " +
        "RENAME TABLE dd.far TO dd.far_old, dd.far_new TO dd.far; DROP TABLE dd.far_old",
    );
    cluster.start(n2);
    await cluster.waitSynced(n2, 90_000);
    lap("node2 joined after dd.far moved into the datadir");
    assertEquals(cluster.joinType(n2), "SST", "node2's join");
    const d2 = cluster.logSinceStart(n1);
    const warned = sstLines(d2, "WARNING").filter((l) => l.includes("DIRECTORY"));
    assertEquals(warned.length, 1, d2);
    assert(warned[0].includes(`dd.mine (${far}/mine.MYD, ${far}/mine.MYI)`), warned[0]);
    for (const ext of ["MYD", "MYI"]) {
      assert(Deno.lstatSync(`${n2.datadir}/dd/mine.${ext}`).isFile, `mine.${ext} on node2`);
    }
    assertEquals(
      await cluster.sql(n2, "SELECT id, v FROM dd.mine ORDER BY id"),
      [["1", "m1"], ["2", "m2"]],
      "dd.mine on node2",
    );
    const sums = await cluster.checksums(n1, ["dd"]);
    assertEquals(await cluster.checksums(n2, ["dd"]), sums, "checksums of dd on node2");
    assertEquals(Object.keys(sums).length, 3, `dd.far, dd.mine, dd.near: ${Object.keys(sums)}`);
    lap("dd.far and dd.mine read the same on node2");
  });
});
