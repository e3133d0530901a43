/**
 * Which system tablespace the donor sent, and the joiner's check that it is the one its own
 * configuration names.
 *
 * The files travel by name (as mariabackup restores them): the donor sends the files its
 * `innodb_data_file_path` names into the joiner's module for them, and tells the joiner their
 * names in this small record, sent with the completion record (and sorted before it, so that
 * it is whole when the completion record is). The joiner then accepts the data set only if its
 * own `innodb_data_file_path` names the same files in the same order (directories may differ)
 * and every one of them is there: a node whose configuration names a file the donor did not
 * send would otherwise start with its own old system tablespace, or a fresh one, beside the
 * donor's redo log and tables.
 *
 * A donor of an earlier version sends no record and only `ibdata*`: its data set is accepted
 * when the joiner's files are named `ibdata*` (what such a donor could send) and all arrived.
 *
 * @module
 */
import { ConfigError, TransferError } from "../core/errors.ts";
import type { SystemTablespace } from "../config/settings.ts";
import { baseName, describeSystemTablespace } from "../config/system_tablespace.ts";

/** File name of the record, next to the completion record (sorts before `sst_complete`). */
export const MANIFEST_FILE = "donor_system_tablespace";

const HEADER = "wsrep_sst_rsync_tunnel system tablespace 1";

/** What the donor says it sent. */
export interface SentTablespace {
  /** The donor's `innodb_data_file_path`, for messages. */
  value: string;
  /** The names of its files, in order. */
  names: string[];
}

/** One printable line. */
function oneLine(s: string): string {
  // deno-lint-ignore no-control-regex -- flattening control characters is the point
  return s.replace(/[\x00-\x1f\x7f]+/g, " ").slice(0, 1000);
}

/** Renders the record of `t`, the donor's system tablespace. */
export function renderManifest(t: SystemTablespace): string {
  return [HEADER, `value ${oneLine(t.value)}`, ...t.files.map((f) => `file ${baseName(f)}`)]
    .join("\n") + "\n";
}

/** Parses a received record; throws a {@link TransferError} naming what is wrong. */
export function parseManifest(text: string, source: string): SentTablespace {
  const bad = (why: string) =>
    new TransferError(
      `system tablespace record ${source} is invalid: ${why}; the SST is not trusted`,
    );
  const lines = text.split("\n").filter((l) => l !== "");
  if (lines[0] !== HEADER) throw bad("unknown format");
  let value: string | undefined;
  const names: string[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith("value ")) value = line.slice(6);
    else if (line.startsWith("file ") && line.length > 5) names.push(line.slice(5));
    else throw bad(`unexpected line ${JSON.stringify(line.slice(0, 40))}`);
  }
  if (value === undefined || names.length === 0) throw bad("no value or no file");
  return { value, names };
}

/**
 * Fails (exit 22, naming both values and the fix) unless the joiner's system tablespace
 * `mine` is the one the donor sent (`sent`; null: a donor that sends no record), and every
 * file of it is in place.
 */
export async function checkReceivedTablespace(
  mine: SystemTablespace,
  sent: SentTablespace | null,
): Promise<void> {
  const names = mine.files.map(baseName);
  const fix = "set innodb_data_file_path to the same file names, in the same order, on every " +
    "node (their directories may differ), then start this node again: it requests a new SST";
  if (sent === null) {
    if (!names.every((n) => n.startsWith("ibdata"))) {
      throw new ConfigError(
        `the donor did not say which system tablespace files it sent (an earlier version of ` +
          `wsrep_sst_rsync_tunnel, which sends only ibdata*), and this node's ` +
          `${describeSystemTablespace(mine)} names others: install this version on the donor`,
      );
    }
  } else if (sent.names.join("\0") !== names.join("\0")) {
    throw new ConfigError(
      `the donor sent its system tablespace innodb_data_file_path=${sent.value} (files ` +
        `${sent.names.join(", ")}), but this node's ${describeSystemTablespace(mine)} names ` +
        `${names.join(", ")}: this node would start with a system tablespace that does not ` +
        `belong to the donor's redo log and tables; ${fix}`,
    );
  }
  for (const f of mine.files) {
    const st = await Deno.stat(f).catch(() => null);
    if (!st?.isFile) {
      throw new TransferError(
        `the system tablespace file ${f} (${describeSystemTablespace(mine)}) did not arrive ` +
          `from the donor; ${fix}`,
      );
    }
  }
}

/**
 * Fails (exit 22) before anything is copied when a file of the donor's system tablespace is
 * missing: its `innodb_data_file_path` or `innodb_data_home_dir` is not the one mariadbd uses.
 */
export async function checkOwnTablespace(t: SystemTablespace): Promise<void> {
  for (const f of t.files) {
    const st = await Deno.stat(f).catch(() => null);
    if (!st?.isFile) {
      throw new ConfigError(
        `the system tablespace file ${f} (${describeSystemTablespace(t)}) is not a regular ` +
          "file here; set innodb_data_file_path and innodb_data_home_dir in the option files " +
          "as mariadbd runs with them",
      );
    }
  }
}
