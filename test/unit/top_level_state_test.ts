/**
 * Unit tests for the classification of a datadir's top-level files that no pass copies
 * (src/transfer/top_level_state.ts): the server state about the old data set is removed, the
 * node's own files are kept, an unknown name is left alone.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import {
  classifyTopLevel,
  staleServerState,
  TOP_LEVEL_FILES,
} from "../../src/transfer/top_level_state.ts";
import type { ServerLayout } from "../../src/config/settings.ts";

const REMOVED = [
  "ddl_recovery.log",
  "ddl_recovery-backup.log",
  "tc.log",
  "master.info",
  "master-conn2.info",
  "multi-master.info",
  "relay-log.info",
  "relay-log-conn2.info",
  "node2-relay-bin.000001",
  "node2-relay-bin.index",
  "node2-relay-bin-conn2.000003",
  "mysql_upgrade_info",
  "mariadb_upgrade_info",
  "xtrabackup_galera_info",
  "mariadb_backup_checkpoints",
];

const KEPT = [
  "grastate.dat",
  "gvwstate.dat",
  "galera.cache",
  "gcache.page.000000",
  "sst_in_progress",
  "wsrep_sst.pid",
  "wsrep_recovery.Xy12ab",
  "node2.err",
  "node2.log",
  "node2-slow.log",
  "mariadb.pid",
  "mysql.sock",
  "ib_buffer_pool",
  "ibtmp1",
  "server-cert.pem",
  "debian-10.11.flag",
];

Deno.test("top-level state: the DDL log, the TC log, replica coordinates, relay logs, upgrade and backup markers are removed; Galera's files, logs, pid files and sockets are kept", () => {
  for (const name of REMOVED) assertEquals(classifyTopLevel(name)?.fate, "removed", name);
  for (const name of KEPT) assertEquals(classifyTopLevel(name)?.fate, "kept", name);
  for (const name of ["notes.txt", "ibdata1", "aria_log_control"]) {
    assertEquals(classifyTopLevel(name), undefined, `${name} is not ours to classify`);
  }
});

Deno.test("top-level state: in the redo log directory ib_logfile0 is the donor's, ib_logfile1… and ib_logfile101 are removed", () => {
  assertEquals(classifyTopLevel("ib_logfile0", "redo log directory")?.fate, "copied");
  for (const name of ["ib_logfile1", "ib_logfile2", "ib_logfile101"]) {
    assertEquals(classifyTopLevel(name, "redo log directory")?.fate, "removed", name);
  }
  assertEquals(classifyTopLevel("ib_logfile1"), undefined, "a datadir rule does not take it");
});

Deno.test("top-level state: every entry gives what the file is and why it is removed or kept", () => {
  for (const e of TOP_LEVEL_FILES) {
    assert(e.what.length > 5 && e.why.length > 5, `entry ${e.pattern} explains itself`);
  }
});

Deno.test("top-level state: staleServerState lists the removed kinds of the datadir and the redo log directory, files and links, never a directory", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dd = `${root}/data`;
    const redo = `${root}/redo`;
    await Deno.mkdir(`${dd}/tc.log`, { recursive: true }); // a directory is not touched
    await Deno.mkdir(redo);
    for (const n of [...REMOVED.filter((n) => n !== "tc.log"), ...KEPT, "notes.txt"]) {
      await Deno.writeTextFile(`${dd}/${n}`, "x");
    }
    await Deno.writeTextFile(`${redo}/ib_logfile0`, "x");
    await Deno.writeTextFile(`${redo}/ib_logfile1`, "x");
    await Deno.writeTextFile(`${dd}/ib_logfile1`, "x"); // not the redo log directory here
    await Deno.symlink("/nonexistent", `${dd}/master-old.info`);
    const layout: ServerLayout = {
      datadir: dd,
      innodbDataHomeDir: dd,
      innodbLogGroupHomeDir: redo,
      innodbUndoDirectory: dd,
      ariaLogDirPath: dd,
    };
    const stale = (await staleServerState(layout)).map((f) => f.path);
    const expected = [
      ...REMOVED.filter((n) => n !== "tc.log").map((n) => `${dd}/${n}`),
      `${dd}/master-old.info`,
      `${redo}/ib_logfile1`,
    ].sort();
    assertEquals(stale, expected);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
