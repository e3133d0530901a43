/**
 * The donor server's `innodb_flush_log_at_trx_commit`, as it was started with it, and the hint
 * the donor logs when mariadbd's own flush under `flush tables` was slow with a setting that
 * makes it so. Measured with `bench:stall --donor-trx-commit` (docs/benchmarks.md "mariadbd's
 * flush and innodb_flush_log_at_trx_commit"): on XFS mariadbd's flush took 0.33–0.79 s with 2
 * and 0.11–0.14 s with 1; on btrfs 1 made it no shorter (0.30–2.37 s) and the stops during the
 * transfer longer, so the hint is given only for a datadir on XFS. The value can be changed at
 * run time (`SET GLOBAL`), which no option file shows: the hint says where the setting was read.
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

/**
 * The INFO line after `continue` when mariadbd's flush took {@link SLOW_FLUSH_SECONDS} or more,
 * the server was started with `innodb_flush_log_at_trx_commit` 0 or 2 and its datadir is on
 * `fsType` XFS (the only file system where 1 was measured to help); else null.
 */
export function slowFlushLine(
  flushSeconds: number,
  setting: TrxCommit,
  fsType: string | undefined,
): string | null {
  if (flushSeconds < SLOW_FLUSH_SECONDS || !["0", "2"].includes(setting.value)) return null;
  if (fsType !== "xfs") return null;
  return `mariadbd's flush took ${flushSeconds.toFixed(2)} s with ` +
    `innodb_flush_log_at_trx_commit=${setting.value} (${setting.where}); in our benchmark on XFS ` +
    "under load it took 0.33-0.79 s with 2 and 0.11-0.14 s with 1: to shorten the donor's stop, " +
    "SET GLOBAL innodb_flush_log_at_trx_commit=1 on the donor for the SST's time " +
    '(README "mariadbd\'s own flush")';
}
