/**
 * Which files of a server layout travel through which rsync module (docs/sst-protocol.md §5), and which
 * top-level entries of a datadir are not schema directories.
 *
 * Each engine file set (system tablespace, redo log, undo tablespaces, Aria logs) always goes
 * through its own module, because only the joiner knows where its own configuration puts it:
 * the donor sends from its directory, the joiner's module writes into the joiner's directory.
 *
 * @module
 */
import type { ServerLayout, SystemTablespace } from "../config/settings.ts";
import { ConfigError } from "../core/errors.ts";
import {
  baseName,
  DEFAULT_DATA_FILE_PATH,
  describeSystemTablespace,
  dirName,
} from "../config/system_tablespace.ts";
import { globToRegExp, SNAPSHOT_RULE } from "./selection.ts";

/** Name of the staging directory for binary logs inside the binlog directory. */
export const BINLOG_STAGING = "wsrep_sst_binlogs.tmp";

/** Top-level entries never copied or deleted by the datadir pass (filesystem artefacts). */
export const TOP_LEVEL_EXCLUDES = [
  "lost+found",
  ".zfs",
  ".fseventsd",
  ".Trashes",
  ".snapshot",
];

/** Which module of the joiner's rsync daemon receives an engine file set. */
export type EngineModule = "dataHome" | "logDir" | "undoDir" | "ariaDir";

/** One engine file set: where it lives in a layout, its module, its names (rsync patterns). */
export interface EngineFileSet {
  label: string;
  /** The server option that places it (for messages). */
  option: string;
  dir: string;
  module: EngineModule;
  patterns: string[];
  /**
   * Names in the same directory that another set of the same module sends (a system
   * tablespace in several directories): this set's job neither sends nor deletes them.
   */
  keep?: string[];
  /**
   * Names of an earlier set (`ibdata*`, mariadbd's default names): never sent, and deleted from
   * the joiner's directory of the set by `--delete` unless this set sends them.
   */
  stale?: string[];
  /**
   * Whether its files change a few bytes at a time inside pages (undo records, page headers),
   * so that a delta pass sends less with blocks finer than a page (see `deltaBlockSize`).
   */
  changesInsidePages: boolean;
}

/** The system tablespace of `layout` (mariadbd's default, `ibdata1` in the data home, if unset). */
export function systemTablespaceOf(layout: ServerLayout): SystemTablespace {
  return layout.systemTablespace ?? {
    value: DEFAULT_DATA_FILE_PATH,
    setting: "default",
    files: [`${layout.innodbDataHomeDir}/ibdata1`],
  };
}

/** The system tablespace's files as engine file sets: one per directory, in file order. */
function systemTablespaceSets(layout: ServerLayout): EngineFileSet[] {
  const files = systemTablespaceOf(layout).files;
  const dirs = [...new Set(files.map(dirName))];
  const names = files.map(baseName);
  return dirs.map((dir) => {
    const own = files.filter((f) => dirName(f) === dir).map(baseName);
    const keep = names.filter((n) => !own.includes(n));
    return {
      label: "InnoDB system tablespace",
      option: "innodb_data_home_dir",
      dir,
      module: "dataHome",
      patterns: own,
      ...(keep.length > 0 ? { keep } : {}),
      stale: ["ibdata*"],
      changesInsidePages: true,
    };
  });
}

/**
 * The one directory where the joiner's module for the system tablespace writes: all its
 * files arrive there, by name (as mariabackup restores them), so they must share one.
 */
export function systemTablespaceDir(layout: ServerLayout): string {
  const t = systemTablespaceOf(layout);
  const dirs = [...new Set(t.files.map(dirName))];
  if (dirs.length === 1) return dirs[0];
  throw new ConfigError(
    `${describeSystemTablespace(t)} spreads the system tablespace over ${dirs.join(", ")}; ` +
      "this SST method receives it into one directory: put its files in one directory on " +
      "this node (directories may differ from the donor's), or use wsrep_sst_method=mariabackup",
  );
}

/** The engine file sets (docs/sst-protocol.md §5) in `layout`. */
export function engineFileSets(layout: ServerLayout): EngineFileSet[] {
  return [
    ...systemTablespaceSets(layout),
    {
      label: "InnoDB redo log",
      option: "innodb_log_group_home_dir",
      dir: layout.innodbLogGroupHomeDir,
      module: "logDir",
      patterns: ["ib_logfile0"],
      changesInsidePages: false,
    },
    {
      label: "InnoDB undo tablespaces",
      option: "innodb_undo_directory",
      dir: layout.innodbUndoDirectory,
      module: "undoDir",
      patterns: ["undo*"],
      changesInsidePages: true,
    },
    {
      label: "Aria logs",
      option: "aria_log_dir_path",
      dir: layout.ariaLogDirPath,
      module: "ariaDir",
      patterns: ["aria_log_control", "aria_log.*"],
      changesInsidePages: false,
    },
  ];
}

/** The directory of the binary logs, when binary logging is on. */
export function binlogDir(layout: ServerLayout): string | undefined {
  const b = layout.binlogBase;
  return b === undefined ? undefined : b.slice(0, b.lastIndexOf("/")) || "/";
}

/**
 * Top-level directories of the datadir that are themselves one of the server's other
 * directories (e.g. `<datadir>/undo` as `innodb_undo_directory`), plus the binlog staging
 * directory, plus mariadbd's `tmpdir` when it is a directory directly in the datadir (its
 * temporary files are no schema, and the joiner's server needs it at start-up): not schema
 * directories, so the datadir passes neither send nor delete them.
 */
export function specialTopLevelDirs(layout: ServerLayout): string[] {
  const dd = layout.datadir;
  const dirs = [...engineFileSets(layout).map((s) => s.dir), binlogDir(layout)];
  const out = new Set<string>([BINLOG_STAGING]);
  for (const d of dirs) {
    if (!d || d === dd || !d.startsWith(dd + "/")) continue;
    out.add(d.slice(dd.length + 1).split("/")[0]);
  }
  const tmp = layout.serverTmpdir;
  if (tmp?.startsWith(dd + "/") && !tmp.slice(dd.length + 1).includes("/")) {
    out.add(tmp.slice(dd.length + 1));
  }
  return [...out];
}

/** `name` as a literal rsync pattern (wildcards and backslashes escaped). */
function literal(name: string): string {
  return name.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/**
 * The joiner's daemon-side excludes for its datadir module (rsyncd.conf `exclude from`, one
 * pattern a line): its own special directories and the filesystem artefacts, whole subtrees.
 * The daemon never deletes what they match, and refuses (rsync exit 23) a push into them, so a
 * donor with another layout can neither remove nor overwrite them. Last, a donor's snapshot
 * directory (its clones, selection.ts `SNAPSHOT_RULE`) at any depth: never received.
 */
export function datadirDaemonExcludes(layout: ServerLayout): string {
  const names = [...new Set([...TOP_LEVEL_EXCLUDES, ...specialTopLevelDirs(layout)])];
  return names.map((n) => `/${literal(n)}/***\n`).join("") + `${SNAPSHOT_RULE}\n`;
}

/**
 * Engine files in the datadir that `layout` keeps elsewhere (left from an earlier layout):
 * no pass writes or deletes them, and the server does not read them.
 */
export async function strayEngineFiles(
  layout: ServerLayout,
): Promise<{ file: string; set: EngineFileSet }[]> {
  const elsewhere = engineFileSets(layout).filter((s) => s.dir !== layout.datadir);
  if (elsewhere.length === 0) return [];
  const out: { file: string; set: EngineFileSet }[] = [];
  for await (const e of Deno.readDir(layout.datadir)) {
    if (!e.isFile) continue;
    const set = elsewhere.find((s) => s.patterns.some((p) => globToRegExp(p).test(e.name)));
    if (set) out.push({ file: e.name, set });
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}
