/**
 * The top-level files of a datadir that no pass copies, as data: which of them are server state
 * describing the node's old data set (removed from the joiner after a full SST) and which belong
 * to the node itself (kept). One table, {@link TOP_LEVEL_FILES}, with the reason per entry; the
 * README's table of what an SST copies says the same.
 *
 * Facts the table rests on (MariaDB 10.5–11.8 sources and a running 10.11 datadir):
 * - `sql/ddl_log.cc`: every DDL statement logs its steps in `ddl_recovery.log`; at start-up the
 *   server replays (completes or rolls back) the entries still active, against the tables it
 *   finds, then keeps the old log as `ddl_recovery-backup.log` and starts an empty one.
 * - `sql/log.cc` (TC_LOG_MMAP): without a binary log and with two XA-capable engines, `tc.log`
 *   lists the XIDs of committed two-phase transactions; at start-up the server commits the
 *   engines' prepared transactions found in it and rolls back the others.
 * - `storage/innobase`: since 10.5 the redo log is `ib_logfile0` alone; `ib_logfile1`… are the
 *   older format's other files, and `ib_logfile101` the file of a log resize that did not end.
 * - `sql/rpl_mi.cc`, `sql/rpl_rli.cc`: a replica keeps its source's coordinates in `master.info`
 *   (`master-<name>.info` per named connection, listed in `multi-master.info`), the applier's
 *   position in `relay-log.info` (`relay-log-<name>.info`), and received events in the relay
 *   logs `<host>-relay-bin.NNNNNN` with their index `<host>-relay-bin.index`.
 * - `mariadb-upgrade` writes the version it upgraded the system tables to in
 *   `mysql_upgrade_info` (`mariadb_upgrade_info` since 11.x).
 *
 * Only these default names are known: a path moved elsewhere by `log-ddl-recovery`, `log-tc`,
 * `relay-log` or `master-info-file` is not touched.
 *
 * @module
 */
import type { ServerLayout } from "../config/settings.ts";
import { globToRegExp } from "./selection.ts";

/** What a full SST does with a top-level file the passes do not copy. */
export type TopLevelFate =
  /** Server state about the old data set: removed from the joiner, not copied from the donor. */
  | "removed"
  /** The node's own: kept as it is. */
  | "kept"
  /** Sent by its own pass (an engine file set): listed so that no rule below takes it. */
  | "copied";

/** Which directory of the layout a {@link TopLevelFile} lives in. */
export type TopLevelPlace = "datadir" | "redo log directory";

/** One kind of top-level file, its fate and why. */
export interface TopLevelFile {
  /** rsync-style pattern for its name (`*`, `?`). */
  pattern: string;
  place: TopLevelPlace;
  fate: TopLevelFate;
  /** What writes and reads it. */
  what: string;
  /** Why the SST removes or keeps it. */
  why: string;
}

/** A replica's file: they share one reason. */
function replica(pattern: string): TopLevelFile {
  return {
    pattern,
    place: "datadir",
    fate: "removed",
    what: "replica coordinates or relay logs (sql/rpl_mi.cc, sql/rpl_rli.cc)",
    why: "the node's old replication coordinates: a replica started on them would " +
      "apply or skip events against the donor's data; the donor's coordinates arrive in " +
      "mysql.gtid_slave_pos, so set up replication again (CHANGE MASTER) after the SST",
  };
}

/**
 * The classification, first match wins (removed entries come first, so `ddl_recovery.log` is
 * not taken for a general log `*.log`). A name that matches no entry is kept, untouched.
 *
 * None of the removed files is copied from the donor, even under the lock: `flush tables`
 * holds the backup lock that blocks DDL and two-phase commits, so the donor's DDL log and TC log
 * hold no active entry then and the joiner's server starts equally well with new empty ones;
 * the donor's replica coordinates would make two nodes of one cluster replicate the same
 * source; and a stale upgrade marker is worse than none (mariadb-upgrade then checks again).
 */
export const TOP_LEVEL_FILES: readonly TopLevelFile[] = [
  {
    pattern: "ddl_recovery.log",
    place: "datadir",
    fate: "removed",
    what: "DDL log (sql/ddl_log.cc), replayed at start-up",
    why: "its active entries are the node's unfinished DDL: replayed against the donor's " +
      "tables they would drop, rename or restore files of another data set",
  },
  {
    pattern: "ddl_recovery-backup.log",
    place: "datadir",
    fate: "removed",
    what: "the DDL log of the last recovery, kept for inspection",
    why: "describes the node's old tables, not the donor's",
  },
  {
    pattern: "tc.log",
    place: "datadir",
    fate: "removed",
    what: "transaction coordinator log (TC_LOG_MMAP), read at start-up",
    why: "decides which prepared transactions the server commits: the node's old XIDs, " +
      "applied to the donor's engines",
  },
  {
    pattern: "ib_logfile0",
    place: "redo log directory",
    fate: "copied",
    what: "InnoDB redo log",
    why: "the donor's, through the redo log pass",
  },
  {
    pattern: "ib_logfile?*",
    place: "redo log directory",
    fate: "removed",
    what: "InnoDB redo files other than ib_logfile0 (format before 10.5, unfinished resize)",
    why: "not part of the donor's redo log, which is ib_logfile0 alone",
  },
  replica("master.info"),
  replica("master-*.info"),
  replica("multi-master.info"),
  replica("relay-log.info"),
  replica("relay-log-*.info"),
  replica("*-relay-bin.*"),
  replica("*-relay-bin-*"),
  {
    pattern: "mysql_upgrade_info",
    place: "datadir",
    fate: "removed",
    what: "version mariadb-upgrade last upgraded the system tables to",
    why: "the system tables are now the donor's: a stale version could make mariadb-upgrade " +
      "skip them; without the file it checks them again",
  },
  {
    pattern: "mariadb_upgrade_info",
    place: "datadir",
    fate: "removed",
    what: "mysql_upgrade_info's name since MariaDB 11",
    why: "as mysql_upgrade_info",
  },
  {
    pattern: "xtrabackup_*",
    place: "datadir",
    fate: "removed",
    what: "mariabackup's description of a backup restored here (position, checkpoints)",
    why: "describes a data set this datadir no longer holds",
  },
  {
    pattern: "mariadb_backup_*",
    place: "datadir",
    fate: "removed",
    what: "the same files' names since MariaDB 11",
    why: "as xtrabackup_*",
  },
  keep("grastate.dat", "Galera's saved state", "the node's position; mariadbd rewrites it"),
  keep("gvwstate.dat", "Galera's primary component view", "the node's own membership"),
  keep("galera.cache", "Galera's write-set cache (gcache)", "the node's own cache"),
  keep("gcache.page.*", "gcache overflow pages", "the node's own cache"),
  keep("sst_in_progress", "the SST marker", "ours; removed when the SST ends"),
  keep("wsrep_sst.pid", "this program's instance lock", "ours; removed when the SST ends"),
  keep("wsrep_recovery.*", "output of mysqld_safe --wsrep-recover", "the node's own log"),
  keep("ib_buffer_pool", "InnoDB's list of cached pages", "a hint for warming the cache"),
  keep("ibtmp1", "InnoDB temporary tablespace", "InnoDB recreates it at every start"),
  keep("*.err", "error log", "the node's own log"),
  keep("*.log", "general, slow and error logs", "the node's own logs"),
  keep("*.pid", "pid files", "the node's own processes"),
  keep("*.sock", "sockets", "the node's own server"),
  keep("*.pem", "certificates", "the node's own identity"),
  keep("*.flag", "packaging markers (debian-10.11.flag)", "the node's own packages"),
];

function keep(pattern: string, what: string, why: string): TopLevelFile {
  return { pattern, place: "datadir", fate: "kept", what, why };
}

const COMPILED = TOP_LEVEL_FILES.map((e) => ({ entry: e, re: globToRegExp(e.pattern) }));

/** The entry for `name` in `place` (first match), or undefined: a name we do not know. */
export function classifyTopLevel(
  name: string,
  place: TopLevelPlace = "datadir",
): TopLevelFile | undefined {
  return COMPILED.find((c) => c.entry.place === place && c.re.test(name))?.entry;
}

/** A file a full SST removes from the joiner. */
export interface StaleFile {
  path: string;
  name: string;
  entry: TopLevelFile;
}

/**
 * The files of `layout` a full SST removes (files and links, never directories; sorted): the datadir's and the
 * redo log directory's entries classified as removed.
 */
export async function staleServerState(layout: ServerLayout): Promise<StaleFile[]> {
  const places: [TopLevelPlace, string][] = [
    ["datadir", layout.datadir],
    ["redo log directory", layout.innodbLogGroupHomeDir],
  ];
  const out: StaleFile[] = [];
  for (const [place, dir] of places) {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile && !e.isSymlink) continue;
      const entry = classifyTopLevel(e.name, place);
      if (entry?.fate === "removed") out.push({ path: `${dir}/${e.name}`, name: e.name, entry });
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
