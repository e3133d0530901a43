/**
 * What a data pass of the donor sends (docs/sst-protocol.md §5): the plan of rsync jobs over the datadir and
 * the bytes each sends, listed by one {@link TreeWalk}; checked before anything is sent (links
 * that lead nowhere, InnoDB tables in other directories); and, for the locked pass after a
 * pre-copy, the files the pre-copy record vouches for left out.
 *
 * @module
 */
import * as log from "../core/log.ts";
import { ConfigError, UnsupportedDataError } from "../core/errors.ts";
import type { Settings } from "../config/settings.ts";
import { isCapped } from "../config/wire_options.ts";
import {
  binlogJob,
  engineFileJobs,
  excludingFrom,
  listSchemaDirs,
  otherDirsJob,
  type RsyncJob,
  schemaJobs,
  shareSchema,
  streamLoads,
  structureJob,
  undecodableDirs,
  withDeltaBlock,
} from "./passes.ts";
import { selectBinlogs } from "./binlogs.ts";
import {
  findRemoteTableFiles,
  linkedFilesMessage,
  remoteTablespaceMessage,
} from "./remote_tables.ts";
import { formatBytes } from "./progress.ts";
import type { SentFile, TreeWalk } from "./selection.ts";
import {
  exactRule,
  type PrecopyRecord,
  type Verdict,
  verdictLabel,
  writableMappings,
} from "./precopy_record.ts";
import { SHORT_JOB_BYTES, type SizedJob } from "./rsync_runner.ts";

/** The jobs of one data pass and the bytes they send. */
export interface CopyPlan {
  /**
   * The directory structure, sent first (by the short lane, or first of all when serial); none
   * in a pass that sends part of a plan whose structure another pass sends (clone_pass.ts).
   */
  lead?: RsyncJob;
  jobs: SizedJob[];
  total: number;
}

/** Where the exclude lists go: the SST's private directory (0600 files). */
export interface FileWriter {
  /** Writes `content` to a new file `name`; returns its path. */
  write(name: string, content: string): Promise<string>;
}

/**
 * `plan` without the files that `record` vouches did not change since the pre-copy sent them:
 * each job that leaves files out gets an `--exclude-from` list in the private directory
 * ({@link excludingFrom}).
 */
export async function skipUnchanged(
  plan: CopyPlan,
  record: PrecopyRecord,
  walk: TreeWalk,
  dir: FileWriter,
): Promise<CopyPlan> {
  return (await lockedReads(plan, record, walk, dir)).plan;
}

/** A plan for the lock and the files each of its jobs reads. */
export interface LockedReads {
  plan: CopyPlan;
  /** `reads[i]`: the files `plan.jobs[i]` reads (stat'ed now), in the walker's order. */
  reads: SentFile[][];
  /** `dirs[i]`: the directories `plan.jobs[i]` creates (`trees` jobs; `rel` as in `reads`). */
  dirs: string[][];
}

/**
 * The files the locked pass of `plan` reads, listed once under the lock: every file of every
 * job, or with a pre-copy `record` those it cannot vouch for — `plan` then leaves the others
 * out ({@link skipUnchanged}'s plan). The clone pass clones exactly these (clone_pass.ts).
 */
export async function lockedReads(
  plan: CopyPlan,
  record: PrecopyRecord | null,
  walk: TreeWalk,
  dir: FileWriter,
): Promise<LockedReads> {
  const reads: SentFile[][] = [];
  const dirs: string[][] = [];
  const listed = async (job: RsyncJob) => {
    const d: string[] = [];
    dirs.push(d);
    return await walk.files(job.selection, job.sources, d);
  };
  if (record === null) {
    for (const { job } of plan.jobs) reads.push(await listed(job));
    return { plan, reads, dirs };
  }
  const mapped = await writableMappings();
  const jobs: SizedJob[] = [];
  const skipped = { files: 0, bytes: 0 };
  const why = new Map<Verdict, number>();
  let compared = 0;
  for (const { job } of plan.jobs) {
    const files = await listed(job);
    const verdicts = files.map((f) => record.verdict(f, mapped));
    for (const v of verdicts) why.set(v, (why.get(v) ?? 0) + 1);
    const vouched = verdicts.map((v) => v === "unchanged");
    const unchanged = files.filter((_, i) => vouched[i]);
    reads.push(files.filter((_, i) => !vouched[i]));
    const left = unchanged.reduce((n, f) => n + f.info.size, 0);
    const bytes = files.reduce((n, f) => n + f.info.size, 0) - left;
    skipped.files += unchanged.length;
    skipped.bytes += left;
    compared += files.length - unchanged.length;
    if (unchanged.length === 0) {
      jobs.push({ job, bytes });
      continue;
    }
    const rules = unchanged.map((f) => exactRule(f.rel)).join("\n") + "\n";
    const list = await dir.write(`unchanged.${jobs.length}`, rules);
    jobs.push({ job: excludingFrom(job, list), bytes });
  }
  log.info(
    `locked delta pass: ${skipped.files} file(s), ${formatBytes(skipped.bytes)}, unchanged ` +
      `since the pre-copy: not read again; ${compared} file(s) to compare${comparedWhy(why)}`,
  );
  return { plan: { ...plan, jobs, total: jobs.reduce((n, s) => n + s.bytes, 0) }, reads, dirs };
}

/** Why the files to compare are compared, most files first (` (12 changed since …, 3 new …)`). */
function comparedWhy(why: ReadonlyMap<Verdict, number>): string {
  const parts = [...why].sort((a, b) => b[1] - a[1])
    .flatMap(([v, n]) => v === "unchanged" ? [] : [`${n} ${verdictLabel(v)}`]);
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/**
 * The transfer plan: the engine file sets, the schema directories in streams, and (under the
 * lock only: they are appended to until then) the binary logs. Fails on a link that cannot be
 * copied and on tables it cannot copy whole ({@link checkRemoteTables}).
 */
export async function planCopy(
  settings: Settings,
  walk: TreeWalk,
  locked: boolean,
): Promise<CopyPlan> {
  const layout = settings.layout;
  const streams = settings.backupThreads;
  const engine = await sized(engineFileJobs(layout), walk);
  const bulk = engine.filter((j) => j.bytes > SHORT_JOB_BYTES).map((j) => j.bytes);
  const dirs = await listSchemaDirs(layout, walk);
  const schemas = await shared(
    await sized([
      ...schemaJobs(layout, dirs, streams, streamLoads(bulk, streams)),
      otherDirsJob(layout, dirs, await undecodableDirs(layout)),
    ], walk),
    bulk.reduce((n, b) => n + b, 0),
    settings,
    walk,
  );
  const logs = locked
    ? await sized([binlogJob(await selectBinlogs(layout, settings.maxBinlogs))], walk)
    : [];
  checkLinks(walk);
  await checkRemoteTables(layout.datadir, dirs.map((d) => d.name), locked);
  const jobs = [...engine, ...schemas, ...logs];
  return { lead: structureJob(layout), jobs, total: jobs.reduce((n, s) => n + s.bytes, 0) };
}

/**
 * `schemas` with the largest schema directory split over the streams ({@link shareSchema})
 * when it alone holds more than half again a stream's fair share of the bulk (`engineBulk`
 * plus the schemas): a database with one large schema would otherwise go through one stream
 * while the others idle. Each share must be worth a connection (at least
 * {@link SHORT_JOB_BYTES} a stream). Not under a bandwidth cap (one rsync at a time).
 */
async function shared(
  schemas: SizedJob[],
  engineBulk: number,
  settings: Settings,
  walk: TreeWalk,
): Promise<SizedJob[]> {
  const streams = settings.backupThreads;
  const trees = schemas.filter((s) =>
    s.job.selection.kind === "trees" && s.job.sources.length === 1
  );
  // Under a cap one rsync runs at a time (pass.ts): shares would only add connections.
  if (streams < 2 || isCapped(settings.wire) || trees.length === 0) return schemas;
  const largest = trees.reduce((m, s) => (s.bytes > m.bytes ? s : m));
  const fair = (engineBulk + schemas.reduce((n, s) => n + s.bytes, 0)) / streams;
  if (largest.bytes <= 1.5 * fair || largest.bytes < streams * SHORT_JOB_BYTES) return schemas;
  const source = largest.job.sources[0];
  const name = source.slice(source.lastIndexOf("/") + 1);
  const files = (await walk.files({ kind: "trees" }, [source]))
    .filter((f) => f.rel.split("/").length === 2)
    .map((f) => ({ name: f.rel.slice(name.length + 1), bytes: f.info.size }));
  const jobs = shareSchema(settings.layout, name, files, streams);
  if (jobs.length === 1) return schemas;
  const shares = await sized(jobs, walk);
  log.info(
    `schema directory ${name} (${formatBytes(largest.bytes)}) holds most of the data: sent in ` +
      `${shares.length} shares (${shares.map((s) => formatBytes(s.bytes)).join(", ")}), one ` +
      `per stream ([sst] backup-threads=${streams})`,
  );
  return [...schemas.filter((s) => s !== largest), ...shares];
}

/** The jobs (nulls dropped) with the bytes each will send. */
async function sized(jobs: readonly (RsyncJob | null)[], walk: TreeWalk): Promise<SizedJob[]> {
  const out: SizedJob[] = [];
  for (const job of jobs) {
    if (!job) continue;
    const bytes = await walk.bytes(job.selection, job.sources);
    out.push({ job: withDeltaBlock(job, bytes), bytes });
  }
  return out;
}

/**
 * Fails (exit 22) before anything is sent when a link in the data set points to nothing or
 * loops: the joiner receives what links point to, and there is nothing (or no end) to send.
 */
function checkLinks(walk: TreeWalk): void {
  if (walk.problems.length === 0) return;
  const shown = walk.problems.slice(0, 3).map((p) =>
    p.why === "dangling" ? `${p.path} points to nothing` : `${p.path} leads back to a parent`
  );
  const more = walk.problems.length > 3 ? ` (and ${walk.problems.length - 3} more)` : "";
  throw new ConfigError(
    `symbolic link(s) in the data set cannot be copied: ${shown.join("; ")}${more}; the joiner ` +
      "receives what every link points to: remove the link or restore its target",
  );
}

/**
 * Refuses (exit 95, {@link UnsupportedDataError}) a data set with InnoDB tables in other
 * directories: only their `.isl` would arrive, and the joiner would start without them. Run for
 * the first plan (before any pre-copy and `flush tables`: the donor's server is never locked
 * for nothing) and again under the lock (a table created meanwhile). MyISAM/Aria files linked
 * elsewhere arrive whole as regular files: one WARNING, with the first plan.
 */
async function checkRemoteTables(
  datadir: string,
  schemas: readonly string[],
  locked: boolean,
): Promise<void> {
  const found = await findRemoteTableFiles(datadir, schemas);
  const refusal = remoteTablespaceMessage(found);
  if (refusal !== null) throw new UnsupportedDataError(refusal);
  const linked = linkedFilesMessage(found);
  if (linked !== null && !locked) log.warn(linked);
}
