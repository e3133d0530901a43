/**
 * What the donor copies (spec §5), as a list of rsync jobs. Each job names its source and the
 * joiner module it writes to; the runner adds the common options and the tunnel.
 *
 * @module
 */
import type { ServerLayout } from "../config/settings.ts";
import { Modules } from "./rsyncd_config.ts";
import { engineFileSets, specialTopLevelDirs, TOP_LEVEL_EXCLUDES } from "./layout_files.ts";

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

/**
 * Pass 1: the top-level directories of the datadir, nothing else (no file: the engine files
 * go through their own modules, wherever they live on the donor). `--delete` removes the
 * joiner's top-level directories the donor does not have, except those the joiner protects
 * (its own special directories: see `datadirDaemonExcludes`). Runs first in the donor's short
 * lane, next to the streams: it deletes only directories the donor does not have and the
 * streams write only those it has, so the two never touch the same directory.
 */
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

/**
 * Passes 2–5: each engine file set from the donor's directory to its own module, which the
 * joiner maps to the directory of its own configuration, whatever the donor's layout. Files
 * only (top-level directories are excluded first: no schema directory is sent along when the
 * set lives in the datadir); `--delete` removes the joiner's stale files of the same set (an
 * old `undo004`), nothing else.
 */
export function engineFileJobs(layout: ServerLayout): RsyncJob[] {
  return engineFileSets(layout).map((s) => ({
    label: s.label,
    options: [
      "--recursive",
      "--delete",
      "--exclude=/*/",
      ...s.patterns.map((p) => `--include=/${p}`),
      "--exclude=**",
    ],
    sources: [`${s.dir}/`],
    module: Modules[s.module],
  }));
}

/** A schema directory and its size in bytes. */
export interface SchemaDir {
  name: string;
  bytes: number;
}

/**
 * Pass 6: the schema directories, split into at most `streams` jobs so that every stream ends
 * up with a similar load: `preload[i]` is what stream i already carries (the engine file sets,
 * see {@link streamLoads}); directories go largest first into the lightest stream. Each job
 * sends whole directories, so `--delete` cleans inside them on the joiner.
 */
export function schemaJobs(
  layout: ServerLayout,
  dirs: readonly SchemaDir[],
  streams: number,
  preload: readonly number[] = [],
): RsyncJob[] {
  const n = Math.max(1, Math.min(streams, dirs.length));
  const bins = Array.from(
    { length: n },
    (_, i) => ({ bytes: preload[i] ?? 0, names: [] as string[] }),
  );
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

/**
 * How `sizes` (bytes of jobs, e.g. the engine file sets) spread over `streams` when each goes,
 * largest first, to the lightest stream: the load of every stream.
 */
export function streamLoads(sizes: readonly number[], streams: number): number[] {
  const loads = new Array<number>(Math.max(1, streams)).fill(0);
  for (const size of [...sizes].sort((a, b) => b - a)) {
    loads[loads.indexOf(Math.min(...loads))] += size;
  }
  return loads;
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
