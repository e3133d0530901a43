/**
 * A node that crashed in the middle of DDL re-joins by a delta SST (issue 23 item 3): node2 is
 * killed (SIGKILL) while a copying `ALTER TABLE` of its own waits to swap the tables in, so its
 * `ddl_recovery.log` holds an active entry; with its state unknown (grastate.dat removed) it
 * re-joins by a full SST onto its old copy (`[sst] delta=on`). The SST removes the old DDL log:
 * mariadbd starts without replaying it (no "DDL_LOG: Crash recovery executed" in node2's log
 * since that start), and node2's tables equal node1's.
 *
 * Needs the launcher built by `deno task build`.
 */
import { atLeast, readFrom, serverVersion, withCluster } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { stopwatch } from "./support/flows.ts";
import { LAUNCHER_DIR, localhostTls } from "../../scripts/lib/launcher.ts";
import { denoAdapter, run, sleep } from "../../src/proc/process.ts";

const NAME = "rsync_tunnel: a node killed in the middle of an ALTER TABLE re-joins by delta SST " +
  "and starts without replaying its old DDL log; its tables equal the donor's";

/** The execute entries of a ddl_recovery.log that recovery would run (10.6+ layout). */
function activeDdlEntries(log: Uint8Array): number {
  if (log.length < 9) return 0;
  const ioSize = log[4] | (log[5] << 8); // header: magic, io size (2 bytes), …
  let n = 0;
  for (let off = ioSize; ioSize > 0 && off < log.length; off += ioSize) {
    if (log[off] === DDL_LOG_EXECUTE_CODE) n++;
  }
  return n;
}

/** The entry types of a ddl_recovery.log, for messages. */
function describeDdlLog(log: Uint8Array): string {
  const ioSize = log[4] | (log[5] << 8);
  const types = [];
  for (let off = ioSize; ioSize > 0 && off < log.length; off += ioSize) types.push(log[off]);
  return `${log.length} bytes, blocks of ${ioSize}, entry types ${types.join(",")}`;
}

/** `DDL_LOG_EXECUTE_CODE` of sql/ddl_log.h (10.6+). */
const DDL_LOG_EXECUTE_CODE = 1;

const tls = localhostTls(["delta=on"]);

Deno.test({
  name: NAME,
  // MariaDB 10.5 has no DDL log for ALTER TABLE (ddl_recovery.log came with 10.6).
  ignore: !atLeast(await serverVersion(), 10, 6),
  fn: () => crashedInDdlRejoins(),
});

function crashedInDdlRejoins(): Promise<void> {
  return withCluster({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    // node1 outweighs node2: it stays primary when node2 is killed.
    configure: async (node, c) => ({
      ...await tls(node, c),
      providerOptions: node.index === 1 ? ["pc.weight=2"] : [],
    }),
  }, async (cluster) => {
    const lap = stopwatch();
    const [n1, n2] = cluster.nodes;
    cluster.start(n1, { newCluster: true });
    await cluster.waitSynced(n1, 60_000);
    await cluster.loadData(n1, { rows: 20_000 });
    cluster.start(n2);
    await cluster.waitSynced(n2, 90_000);
    lap("node1 bootstrapped, node2 joined");

    // A reader holds the table's metadata lock: node2's own copying ALTER (not replicated)
    // copies the rows, then waits to swap the tables in, its DDL log entry active.
    const client = (sql: string) =>
      run(denoAdapter, {
        cmd: "mariadb",
        args: ["--no-defaults", "-S", n2.socket, "-u", "root", "-e", sql],
      }, { timeoutMs: 120_000 });
    const reader = client(
      "START TRANSACTION; SELECT COUNT(*) FROM e2e.big; SELECT SLEEP(100)",
    );
    await sleep(500);
    const alter = client(
      "SET SESSION wsrep_on=OFF; ALTER TABLE e2e.big ADD COLUMN extra INT, ALGORITHM=COPY",
    );
    const deadline = Date.now() + 30_000;
    let waiting = false;
    while (!waiting && Date.now() < deadline) {
      const rows = await cluster.sql(
        n2,
        "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'ALTER TABLE%' " +
          "AND state LIKE 'Waiting for table metadata lock%'",
      );
      waiting = rows[0]?.[0] === "1";
      if (!waiting) await sleep(200);
    }
    assert(waiting, "node2's ALTER TABLE waits for the metadata lock after copying");
    const ddlLog = `${n2.datadir}/ddl_recovery.log`;
    const bytes = await Deno.readFile(ddlLog);
    const entries = activeDdlEntries(bytes);
    assert(entries > 0, `${ddlLog} holds no active entry: ${describeDdlLog(bytes)}`);
    await cluster.kill(n2);
    await Promise.allSettled([reader, alter]);
    lap(`node2 killed in the middle of its ALTER TABLE (${entries} active DDL log entries)`);

    await cluster.writeMore(n1, 1);
    await Deno.remove(`${n2.datadir}/grastate.dat`); // state unknown: a full SST
    cluster.start(n2);
    await cluster.waitSynced(n2, 90_000);
    lap("node2 rejoined");

    assertEquals(cluster.joinType(n2), "SST", "node2 rejoined by SST");
    const log = cluster.logSinceStart(n2);
    const sst = log.split("\n").filter((l) => /WSREP_SST/.test(l)).join("\n");
    assert(
      !/DDL_LOG: Crash recovery executed/.test(log),
      `node2 replayed its old DDL log:\n${
        log.split("\n").filter((l) => /DDL|ddl/.test(l)).join("\n")
      }`,
    );
    assert(
      /removed \d+ file\(s\) of this node's server state .*ddl_recovery\.log/.test(log),
      `the joiner names the DDL log it removed:\n${sst}`,
    );
    assert(/delta transfer on/.test(readFrom(n1.errorLog, 0)), "the donor used delta transfer");
    assertEquals(await cluster.checksums(n2), await cluster.checksums(n1), "node2's tables");
  });
}
