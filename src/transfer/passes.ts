/**
 * What the donor copies (docs/sst-protocol.md §5), as a list of rsync jobs. Each job names its source and the
 * joiner module it writes to; the runner adds the common options and the tunnel.
 *
 * @module
 */
import type { ServerLayout } from "../config/settings.ts";
import { Modules } from "./rsyncd_config.ts";
import { engineFileSets, specialTopLevelDirs, TOP_LEVEL_EXCLUDES } from "./layout_files.ts";
import {
  dirNames,
  isSnapshotName,
  type Selection,
  selectionOptions,
  type TreeWalk,
} from "./selection.ts";
import { displayName, utf8Name, withRawDir } from "../proc/raw_dir.ts";
import { onPath } from "../core/fs_errors.ts";

/** A job sending `selection` of `sources` to `module`, with `extra` options after its filters. */
function job(
  label: string,
  selection: Selection,
  extra: string[],
  sources: string[],
  module: string,
): RsyncJob {
  const [first, ...rest] = selectionOptions(selection);
  // The recursion option leads, as rsync prints it back in its own command lines.
  const options = first === undefined ? extra : [first, ...extra, ...rest];
  return { label, selection, options, sources, module };
}

/**
 * `job` leaving out the files that `list` names (one anchored rule a line, rsync's
 * `--exclude-from`): the rules go ahead of the job's own filters, so those files are neither
 * sent nor, on the joiner, deleted.
 */
export function excludingFrom(job: RsyncJob, list: string): RsyncJob {
  const [first, ...rest] = job.options;
  const exclude = `--exclude-from=${list}`;
  return { ...job, options: first === undefined ? [exclude] : [first, exclude, ...rest] };
}

/** One rsync invocation's specific part. */
export interface RsyncJob {
  /** Short name for logs. */
  label: string;
  /** Which files of `sources` it sends (the byte count comes from it too). */
  selection: Selection;
  /** Options specific to this job: `selection`'s filters first, then the job's own. */
  options: string[];
  /** Source paths (a directory with trailing `/`, or files). */
  sources: string[];
  /** Joiner module and path inside it. */
  module: string;
  path?: string;
  /**
   * Whether its files change a few bytes at a time inside pages (the engine file set says so):
   * their delta block is then finer than a page, see {@link withDeltaBlock}.
   */
  changesInsidePages?: boolean;
  /** Block size of a delta transfer of this job; without, {@link DELTA_BLOCK_SIZE}. */
  blockSize?: number;
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
  const excludes = notSchemaDirs(layout);
  return job(
    "schema directories",
    { kind: "directories", excludes },
    ["--delete"],
    [`${layout.datadir}/`],
    Modules.datadir,
  );
}

/**
 * Passes 2–5: each engine file set from the donor's directory to its own module, which the
 * joiner maps to the directory of its own configuration, whatever the donor's layout. Files
 * only (top-level directories are excluded first: no schema directory is sent along when the
 * set lives in the datadir); `--delete` removes the joiner's stale files of the same set (an
 * old `undo004`, an `ibdata2` of an earlier system tablespace), nothing else.
 */
export function engineFileJobs(layout: ServerLayout): RsyncJob[] {
  return engineFileSets(layout).map((s) => ({
    ...job(
      s.label,
      { kind: "matching", patterns: s.patterns, keep: s.keep, stale: s.stale },
      ["--delete"],
      [`${s.dir}/`],
      Modules[s.module],
    ),
    changesInsidePages: s.changesInsidePages,
  }));
}

/**
 * The delta pass's block size: InnoDB's default page, so that a changed page is one block and a
 * page rewritten whole costs no more than itself.
 */
export const DELTA_BLOCK_SIZE = 16384;

/** The finest delta block: for files that change a few bytes at a time inside pages. */
export const FINE_BLOCK_SIZE = 1024;

/** Most blocks per file: rsync keeps a checksum record (about 40 bytes) per block in memory. */
const MAX_BLOCKS = 1 << 20;

/**
 * Block size of a delta transfer of `bytes` of files that change inside pages (the InnoDB
 * system tablespace, undo tablespaces): {@link FINE_BLOCK_SIZE}, doubled while a file of that
 * size would have more than 2^20 blocks, at most a page. Measured by rsync between the two
 * copies of ibdata1 (76 MiB) of a re-join after 5 % of the rows were updated: it sent 12.8 MB
 * with 1 KiB blocks, 14.0 with 2 KiB, 16.0 with 4 KiB, 17.1 with 16 KiB; with rsync's default
 * block (8,920 bytes there) its literal data alone was 14.8 MB.
 */
export function deltaBlockSize(bytes: number): number {
  let size = FINE_BLOCK_SIZE;
  while (size < DELTA_BLOCK_SIZE && bytes / size > MAX_BLOCKS) size *= 2;
  return size;
}

/**
 * `job` with its delta block size when its files change inside pages; `bytes` is the sum of its
 * files, so at least the largest one.
 */
export function withDeltaBlock(job: RsyncJob, bytes: number): RsyncJob {
  return job.changesInsidePages ? { ...job, blockSize: deltaBlockSize(bytes) } : job;
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
  return bins.filter((b) => b.names.length > 0).map((b) =>
    job(
      `schemas ${b.names.sort().join(", ").slice(0, 60)}`,
      { kind: "trees" },
      ["--delete"],
      b.names.map((name) => `${layout.datadir}/${name}`),
      Modules.datadir,
    )
  );
}

/** A regular file directly in a schema directory, by name, and its size in bytes. */
export interface SchemaFile {
  name: string;
  bytes: number;
}

/**
 * Names a share of a schema may carry: a plain file name (MariaDB encodes other characters of
 * table names as `@xxxx`), so that it is an exact rsync rule and part of a daemon path as it is.
 */
const SHAREABLE_NAME = /^[A-Za-z0-9_@$-][A-Za-z0-9_@$.-]*$/;

/** The largest fraction of a split directory's bytes one share may hold. */
const MOST_IN_ONE_SHARE = 0.75;

/**
 * A schema directory `name` that alone would keep one stream busy long after the others (one
 * large database), split into up to `shares` jobs of similar size: the first sends the
 * directory as a tree, `--delete` within it, but the files the others send (`leave`: neither
 * sent nor deleted by it); each other job sends its files (`files`, largest first to the
 * lightest share) into the directory. Files with other names stay in the tree. One job (the
 * directory whole) when the name or the files do not allow a split, or when one share would
 * still hold most of the bytes (over 3/4: one huge table).
 */
export function shareSchema(
  layout: ServerLayout,
  name: string,
  files: readonly SchemaFile[],
  shares: number,
): RsyncJob[] {
  const dir = `${layout.datadir}/${name}`;
  const tree = (leave: string[]) =>
    job(`schemas ${name}`, { kind: "trees", leave }, ["--delete"], [dir], Modules.datadir);
  if (!SHAREABLE_NAME.test(name) || shares < 2) return [tree([])];
  const movable = files.filter((f) => SHAREABLE_NAME.test(f.name));
  const stay = files.filter((f) => !SHAREABLE_NAME.test(f.name));
  const groups = Array.from({ length: shares }, () => ({ bytes: 0, names: [] as string[] }));
  groups[0].bytes = stay.reduce((n, f) => n + f.bytes, 0);
  for (const f of [...movable].sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name))) {
    const lightest = groups.reduce((m, g) => (g.bytes < m.bytes ? g : m));
    lightest.bytes += f.bytes;
    lightest.names.push(f.name);
  }
  const others = groups.slice(1).filter((g) => g.names.length > 0);
  // A split that leaves most of the bytes in one share (one huge table) only adds connections.
  const total = groups.reduce((n, g) => n + g.bytes, 0);
  if (Math.max(...groups.map((g) => g.bytes)) > MOST_IN_ONE_SHARE * total) return [tree([])];
  return [
    tree(others.flatMap((g) => g.names.map((n) => `${name}/${n}`)).sort()),
    ...others.map((g, i) => ({
      ...job(
        `schemas ${name} (share ${i + 2})`,
        { kind: "files" },
        [],
        g.names.sort().map((n) => `${dir}/${n}`),
        Modules.datadir,
      ),
      path: `${name}/`,
    })),
  ];
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

/**
 * Lists the datadir's top-level directories that pass 6 copies (links to directories
 * included: `--copy-links` sends what they point to), with sizes from `walk`. Only names that
 * are UTF-8: the others go by {@link otherDirsJob}. Never a snapshot directory of the donor's.
 */
export async function listSchemaDirs(layout: ServerLayout, walk: TreeWalk): Promise<SchemaDir[]> {
  const skip = new Set(notSchemaDirs(layout));
  const out: SchemaDir[] = [];
  const names = await onPath(
    { path: layout.datadir, doing: "list", access: "read", setting: "[mysqld] datadir" },
    () => dirNames(layout.datadir),
  );
  for (const raw of names) {
    const name = utf8Name(raw);
    if (name === null || skip.has(name) || isSnapshotName(name)) continue;
    const path = `${layout.datadir}/${name}`;
    if ((await Deno.stat(path).catch(() => null))?.isDirectory) {
      out.push({ name, bytes: await walk.treeBytes(path) });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Top-level directories that are no schema directories (never sent, never deleted). */
function notSchemaDirs(layout: ServerLayout): string[] {
  return [...TOP_LEVEL_EXCLUDES, ...specialTopLevelDirs(layout)];
}

/**
 * The datadir's top-level directories whose names are not UTF-8 (as rsync shows them: `\ooo`
 * for such a byte). No argument can carry such a name: {@link otherDirsJob} sends them.
 */
export async function undecodableDirs(layout: ServerLayout): Promise<string[]> {
  const out: string[] = [];
  for (const raw of await dirNames(layout.datadir)) {
    if (utf8Name(raw) !== null) continue;
    if (await withRawDir(layout.datadir, raw, () => Promise.resolve(true))) {
      out.push(displayName(raw));
    }
  }
  return out.sort();
}

/**
 * Pass 6 for the top-level directories whose names are not UTF-8 (`undecodable` as shown in the
 * log; null when there is none): rsync finds them itself in the datadir, as every directory but
 * the schema directories `dirs` (sent by {@link schemaJobs}) and those never sent. `--delete`
 * cleans inside them on the joiner.
 */
export function otherDirsJob(
  layout: ServerLayout,
  dirs: readonly SchemaDir[],
  undecodable: readonly string[],
): RsyncJob | null {
  if (undecodable.length === 0) return null;
  return job(
    `directories ${undecodable.join(", ").slice(0, 60)}`,
    { kind: "otherTrees", excludes: [...notSchemaDirs(layout), ...dirs.map((d) => d.name)] },
    ["--delete"],
    [`${layout.datadir}/`],
    Modules.datadir,
  );
}

/** The binary logs to ship, flat, into the joiner's staging directory. */
export function binlogJob(files: readonly string[]): RsyncJob | null {
  if (files.length === 0) return null;
  return job("binary logs", { kind: "files" }, [], [...files], Modules.binlogs);
}

/**
 * The completion record, always last, with `before`: records the joiner reads once the
 * completion record is there (rsync sends files in name order: their names must sort before
 * it). Not in place: rsync writes a temporary file and renames it, so the joiner never reads a
 * partly written record.
 */
export function completionJob(file: string, before: readonly string[] = []): RsyncJob {
  return job(
    "completion record",
    { kind: "files" },
    ["--checksum", "--no-inplace"],
    [...before, file],
    Modules.complete,
  );
}
