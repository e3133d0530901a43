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

/** The engine files of spec §5 passes 2–5: directory, module, patterns. */
function engineFileSets(
  layout: ServerLayout,
): { label: string; dir: string; module: string; patterns: string[] }[] {
  return [
    {
      label: "InnoDB system tablespace",
      dir: layout.innodbDataHomeDir,
      module: Modules.dataHome,
      patterns: ["ibdata*", "ib_lru_dump"],
    },
    {
      label: "InnoDB redo log",
      dir: layout.innodbLogGroupHomeDir,
      module: Modules.logDir,
      patterns: ["ib_logfile0"],
    },
    {
      label: "InnoDB undo tablespaces",
      dir: layout.innodbUndoDirectory,
      module: Modules.undoDir,
      patterns: ["undo*"],
    },
    {
      label: "Aria logs",
      dir: layout.ariaLogDirPath,
      module: Modules.ariaDir,
      patterns: ["aria_log_control", "aria_log.*"],
    },
  ];
}

/**
 * Pass 1: the top-level directory structure, plus the engine files that live in the datadir
 * itself (one connection instead of four in the default layout). Runs alone and first, so a
 * TLS or protocol problem fails early.
 */
export function structureJob(layout: ServerLayout): RsyncJob {
  const excludes = [...TOP_LEVEL_EXCLUDES, ...specialTopLevelDirs(layout)]
    .map((n) => `--exclude=/${n}`);
  const engineIncludes = engineFileSets(layout)
    .filter((s) => s.dir === layout.datadir)
    .flatMap((s) => s.patterns.map((p) => `--include=/${p}`));
  return {
    label: "schema directories and engine files",
    options: [
      "--dirs",
      "--delete",
      ...excludes,
      ...engineIncludes,
      "--include=/*/",
      "--exclude=/*",
    ],
    sources: [`${layout.datadir}/`],
    module: Modules.datadir,
  };
}

/** Passes 2–5 for engine files kept outside the datadir. */
export function engineFileJobs(layout: ServerLayout): RsyncJob[] {
  return engineFileSets(layout).filter((s) => s.dir !== layout.datadir).map((s) => ({
    label: s.label,
    options: [
      "--recursive",
      "--delete",
      ...s.patterns.map((p) => `--include=/${p}`),
      "--exclude=**",
    ],
    sources: [`${s.dir}/`],
    module: s.module,
  }));
}

/** A schema directory and its size in bytes. */
export interface SchemaDir {
  name: string;
  bytes: number;
}

/**
 * Pass 6: the schema directories, split into at most `streams` jobs of similar size
 * (largest first, each into the lightest job). Each job sends whole directories, so
 * `--delete` cleans inside them on the joiner.
 */
export function schemaJobs(
  layout: ServerLayout,
  dirs: readonly SchemaDir[],
  streams: number,
): RsyncJob[] {
  const n = Math.max(1, Math.min(streams, dirs.length));
  const bins = Array.from({ length: n }, () => ({ bytes: 0, names: [] as string[] }));
  for (const d of [...dirs].sort((a, b) => b.bytes - a.bytes)) {
    const lightest = bins.reduce((m, b) => (b.bytes < m.bytes ? b : m));
    lightest.bytes += d.bytes;
    lightest.names.push(d.name);
  }
  return bins.filter((b) => b.names.length > 0).map((b) => ({
    label: `schemas ${b.names.sort().join(", ").slice(0, 60)}`,
    options: ["--recursive", "--delete"],
    sources: b.names.map((name) => `${layout.datadir}/${name}`),
    module: Modules.datadir,
  }));
}

/** Total size of the files below `dir` (symlinks followed once at the top). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) total += await treeBytes(p);
    else if (e.isFile) total += (await Deno.stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** Lists the datadir's top-level directories that pass 6 copies (symlinks followed), with sizes. */
export async function listSchemaDirs(layout: ServerLayout): Promise<SchemaDir[]> {
  const skip = new Set([...TOP_LEVEL_EXCLUDES, ...specialTopLevelDirs(layout)]);
  const out: SchemaDir[] = [];
  for await (const e of Deno.readDir(layout.datadir)) {
    if (skip.has(e.name)) continue;
    const isDir = e.isDirectory ||
      (e.isSymlink && (await Deno.stat(`${layout.datadir}/${e.name}`).catch(() => null))
        ?.isDirectory);
    if (isDir) out.push({ name: e.name, bytes: await treeBytes(`${layout.datadir}/${e.name}`) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The binary logs to ship, flat, into the joiner's staging directory. */
export function binlogJob(files: readonly string[]): RsyncJob | null {
  if (files.length === 0) return null;
  return { label: "binary logs", options: [], sources: [...files], module: Modules.binlogs };
}

/**
 * The completion record, always last. Not in place: rsync writes a temporary file and renames
 * it, so the joiner never reads a partly written record.
 */
export function completionJob(file: string): RsyncJob {
  return {
    label: "completion record",
    options: ["--checksum", "--no-inplace"],
    sources: [file],
    module: Modules.complete,
  };
}
