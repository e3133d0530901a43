/**
 * What the donor copies (spec §5), as a list of rsync jobs. Each job names its source and the
 * joiner module it writes to; the runner adds the common options and the tunnel.
 *
 * @module
 */
import type { ServerLayout } from "../config/settings.ts";
import { BINLOG_STAGING, Modules } from "./rsyncd_config.ts";

/** One rsync invocation's specific part. */
export interface RsyncJob {
  /** Short name for logs. */
  label: string;
  /** Options specific to this job (filters, recursion). */
  options: string[];
  /** Source paths (a directory with trailing `/`, or files). */
  sources: string[];
  /** Joiner module and path inside it. */
  module: string;
  path?: string;
}

/** Top-level entries never copied or deleted by the datadir pass. */
const TOP_LEVEL_EXCLUDES = ["lost+found", ".zfs", ".fseventsd", ".Trashes", ".snapshot"];

/**
 * Top-level directories of the datadir that are themselves one of the server's other
 * directories (e.g. `<datadir>/undo` as `innodb_undo_directory`): their own pass copies them.
 */
export function specialTopLevelDirs(layout: ServerLayout): string[] {
  const dd = layout.datadir;
  const binlogDir = layout.binlogBase?.slice(0, layout.binlogBase.lastIndexOf("/"));
  const dirs = [
    layout.innodbDataHomeDir,
    layout.innodbLogGroupHomeDir,
    layout.innodbUndoDirectory,
    layout.ariaLogDirPath,
    binlogDir,
  ];
  const out = new Set<string>([BINLOG_STAGING]);
  for (const d of dirs) {
    if (!d || d === dd || !d.startsWith(dd + "/")) continue;
    out.add(d.slice(dd.length + 1).split("/")[0]);
  }
  return [...out];
}

/** Pass 1: the top-level directory structure only (fails early on a protocol mismatch). */
export function structureJob(layout: ServerLayout): RsyncJob {
  const excludes = [...TOP_LEVEL_EXCLUDES, ...specialTopLevelDirs(layout)]
    .map((n) => `--exclude=/${n}`);
  return {
    label: "schema directories",
    options: ["--dirs", "--delete", ...excludes, "--include=/*/", "--exclude=/*"],
    sources: [`${layout.datadir}/`],
    module: Modules.datadir,
  };
}

function filesJob(label: string, dir: string, module: string, patterns: string[]): RsyncJob {
  return {
    label,
    options: ["--recursive", "--delete", ...patterns.map((p) => `--include=/${p}`), "--exclude=**"],
    sources: [`${dir}/`],
    module,
  };
}

/** Passes 2–5: InnoDB system tablespace, redo log, undo tablespaces, Aria logs. */
export function engineFileJobs(layout: ServerLayout): RsyncJob[] {
  return [
    filesJob("InnoDB system tablespace", layout.innodbDataHomeDir, Modules.dataHome, [
      "ibdata*",
      "ib_lru_dump",
    ]),
    filesJob("InnoDB redo log", layout.innodbLogGroupHomeDir, Modules.logDir, ["ib_logfile0"]),
    filesJob("InnoDB undo tablespaces", layout.innodbUndoDirectory, Modules.undoDir, ["undo*"]),
    filesJob("Aria logs", layout.ariaLogDirPath, Modules.ariaDir, [
      "aria_log_control",
      "aria_log.*",
    ]),
  ];
}

/** Pass 6: one recursive job per schema directory. */
export function schemaJobs(layout: ServerLayout, dirs: readonly string[]): RsyncJob[] {
  return dirs.map((d) => ({
    label: `schema ${d}`,
    options: ["--recursive", "--delete"],
    sources: [`${layout.datadir}/${d}/`],
    module: Modules.datadir,
    path: `${d}/`,
  }));
}

/** Lists the datadir's top-level directories that pass 6 copies (symlinks followed). */
export async function listSchemaDirs(layout: ServerLayout): Promise<string[]> {
  const skip = new Set([...TOP_LEVEL_EXCLUDES, ...specialTopLevelDirs(layout)]);
  const out: string[] = [];
  for await (const e of Deno.readDir(layout.datadir)) {
    if (skip.has(e.name)) continue;
    const isDir = e.isDirectory ||
      (e.isSymlink && (await Deno.stat(`${layout.datadir}/${e.name}`).catch(() => null))
        ?.isDirectory);
    if (isDir) out.push(e.name);
  }
  return out.sort();
}

/** The binary logs to ship, flat, into the joiner's staging directory. */
export function binlogJob(files: readonly string[]): RsyncJob | null {
  if (files.length === 0) return null;
  return { label: "binary logs", options: [], sources: [...files], module: Modules.binlogs };
}

/** The completion record, always last. */
export function completionJob(file: string): RsyncJob {
  return {
    label: "completion record",
    options: ["--checksum"],
    sources: [file],
    module: Modules.complete,
  };
}
