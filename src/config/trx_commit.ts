/**
 * The donor server's `innodb_flush_log_at_trx_commit`, as it was started with it, and the hint the
 * donor logs when mariadbd's own flush under `flush tables` was slow with a setting that makes it
 * so. Under `flush tables` mariadbd rotates the binary log and, in a Galera node, waits for the old
 * file's binlog checkpoint: until InnoDB has written its redo log durably. With 1 every commit
 * already has; with 0 or 2 that happens only in the background, at the latest after
 * `innodb_flush_log_at_timeout` (1 s by default). Measured with `bench:stall --donor-trx-commit`
 * and `--binlog` (docs/benchmarks.md "mariadbd's flush and innodb_flush_log_at_trx_commit"; the
 * wait seen in mariadbd's stacks): on XFS mariadbd's flush took 0.14–0.87 s with 2 and 0.11–0.14 s
 * with 1, and 0.05–0.12 s with 2 and no binary log; on ext4 0.16–0.47 s with 2 and 0.07–0.09 s with
 * 1; on btrfs 1 made it no shorter (0.30–2.37 s) and the stops during the transfer longer, so the
 * hint is given for a datadir on XFS or ext4 only. The value can be changed at run time (`SET
 * GLOBAL`), which no option file shows: the hint says where the setting was read.
 *
 * @module
 */
import type { OptionLookup } from "./option_lookup.ts";

/** The setting and where it was read. */
export interface TrxCommit {
  /** As written: `0`, `1`, `2` or `3`. */
  value: string;
  /** `mariadbd's argument`, `/etc/mysql/my.cnf:12 [mysqld] innodb_flush_log_at_trx_commit`, `default`. */
  where: string;
}

const KEY = "innodb-flush-log-at-trx-commit";

/** mariadbd's argv wins over the option files (it reads them first); MariaDB's default is 1. */
export function trxCommitFrom(opts: OptionLookup, fromArgs: string | undefined): TrxCommit {
  if (fromArgs !== undefined) return { value: fromArgs, where: "mariadbd's argument" };
  const value = opts.get("--mysqld", KEY);
  if (value === undefined) return { value: "1", where: "default" };
  return { value, where: opts.source("--mysqld", KEY)?.where ?? "the option files" };
}

/** A flush of mariadbd's this long or longer is worth a hint. */
export const SLOW_FLUSH_SECONDS = 0.3;

/** What the hint about mariadbd's flush looks at. */
export interface FlushFacts {
  /** mariadbd's flush (`flush tables` to `tables_flushed`), seconds. */
  seconds: number;
  setting: TrxCommit;
  /** The datadir's file system type (statfs), if known. */
  fsType: string | undefined;
  /** Whether the server writes a binary log: its rotation under the lock is what waits. */
  binlog: boolean;
}

/** Where 1 was measured to shorten mariadbd's flush (on btrfs it did not: docs/benchmarks.md). */
const HINT_FS = ["xfs", "ext4"];

/**
 * The INFO line after `continue` when mariadbd's flush took {@link SLOW_FLUSH_SECONDS} or more,
 * the server writes a binary log, was started with `innodb_flush_log_at_trx_commit` 0 or 2, and
 * its datadir is on a file system of {@link HINT_FS}; else null.
 */
export function slowFlushLine(facts: FlushFacts): string | null {
  const { seconds, setting } = facts;
  if (seconds < SLOW_FLUSH_SECONDS || !["0", "2"].includes(setting.value)) return null;
  if (!facts.binlog || !HINT_FS.includes(facts.fsType ?? "")) return null;
  return `mariadbd's flush took ${seconds.toFixed(2)} s with ` +
    `innodb_flush_log_at_trx_commit=${setting.value} (${setting.where}) and the binary log on: ` +
    "it rotates the binary log and waits until InnoDB has written its redo log durably, which " +
    "with 0 or 2 happens only in the background, about once a second; " +
    "SET GLOBAL innodb_flush_log_at_trx_commit=1 on the donor for the SST's time makes the wait " +
    'short (README "mariadbd\'s own flush")';
}
