/**
 * The clone pass (issue 24): under the lock, clone every file the locked pass would read into
 * the snapshot directories (snapshot_dir.ts), let mariadbd write again, and send from the
 * clones. The donor (src/sst/donor.ts) calls, in this order:
 *
 * 1. before `flush tables`, {@link prepareClones}: the data set's parts (one per directory,
 *    {@link cloneParts}), stale snapshot directories of killed donors removed, this SST's made,
 *    each file system probed and `[sst] clone` applied (clone_probe.ts): one INFO line;
 * 2. under the lock, {@link cloneUnderLock}: the floor checked again on each file system that
 *    clones, every file of the locked reads cloned to the same relative name below its part's
 *    clone root (directories of `trees` sources mirrored, empty ones too); what cannot be sent
 *    from clones is the {@link ClonedCopy.locked} plan, sent before `continue`;
 * 3. after `continue`, the `clone` pass (pass.ts) sends {@link ClonedCopy.clone} with its
 *    sources rebased into the clone roots ({@link rebasePlan}); {@link ClonedCopy.opened}
 *    deletes each clone as soon as its rsync says it opened it, {@link ClonedCopy.sent} the
 *    rest of a job's clones once its rsync ended cleanly; {@link guardClones} watches free
 *    space.
 *
 * How a job is split, so that every file is sent by exactly one pass and `--delete` on the
 * joiner removes nothing the other pass sends (rsync neither sends nor deletes an excluded name):
 *
 * | job's files                                   | clone pass                         | locked pass before `continue`      |
 * | --------------------------------------------- | ---------------------------------- | ---------------------------------- |
 * | its part does not clone, or `otherTrees`      | —                                  | the job                            |
 * | all cloned                                    | the job, rebased                   | —                                  |
 * | some not cloned, each named by an exact rule  | the job, rebased, without those    | the job without the cloned ones    |
 * | some not cloned, a name no rule can name      | — (its clones deleted at once)     | the job                            |
 * | a directory that cannot be mirrored           | — (its clones deleted at once)     | the job                            |
 *
 * The structure pass (`lead`) goes with the clone pass when the datadir's schema directories
 * are all mirrored in its clone root, else with the locked pass: the `--delete` of top-level
 * directories then always reads the same directory tree as the passes that fill them.
 *
 * @module
 */
import * as log from "../core/log.ts";
import { SstError, TransferError } from "../core/errors.ts";
import type { Settings } from "../config/settings.ts";
import { binlogDir, engineFileSets } from "./layout_files.ts";
import type { ServerLayout } from "../config/settings.ts";
import { excludingFrom, type RsyncJob } from "./passes.ts";
import type { CopyPlan, FileWriter, LockedReads } from "./copy_plan.ts";
import type { SentFile, TreeWalk } from "./selection.ts";
import { exactRule } from "./precopy_record.ts";
import type { SizedJob } from "./rsync_runner.ts";
import {
  type CleanupRegistry,
  type ClonedFile,
  type ClonePart,
  type CloneRun,
  deviceOf,
  SnapshotDirs,
  sweepStaleSnapshots,
} from "./snapshot_dir.ts";
import { applyCloneSetting, type PartPlan, planLine, probeClones } from "./clone_probe.ts";
import {
  checkFloor,
  CloneSpaceError,
  DEFAULT_FLOOR,
  type FloorPolicy,
  type GuardedFs,
  type SpaceWatch,
  watchSpace,
} from "./space_guard.ts";
import { statFs } from "../proc/statfs.ts";
import { extentCount } from "../proc/ficlone.ts";
import { Stopwatch } from "../proc/wait.ts";

/** The key of the datadir's part (its clone root's name). */
const DATADIR_KEY = "datadir";

/**
 * The parts of `layout`'s data set: one per distinct directory the passes send from (datadir,
 * system tablespace, redo log, undo tablespaces, Aria logs, binary logs), named by what lives
 * there. The datadir's key is `datadir`, the others `part-<n>`.
 */
export function cloneParts(layout: ServerLayout): ClonePart[] {
  const named = [
    { dir: layout.datadir, label: "datadir" },
    ...engineFileSets(layout).map((s) => ({ dir: s.dir, label: s.label })),
  ];
  const binlogs = layout.binlogBase === undefined ? undefined : binlogDir(layout);
  if (binlogs) named.push({ dir: binlogs, label: "binary logs" });
  const parts: ClonePart[] = [];
  for (const { dir, label } of named) {
    const same = parts.find((p) => p.dir === dir);
    if (same) {
      if (!same.label.split(", ").includes(label)) same.label += `, ${label}`;
      continue;
    }
    parts.push({ key: parts.length === 0 ? DATADIR_KEY : `part-${parts.length}`, label, dir });
  }
  return parts;
}

/** What is decided before `flush tables`. */
export interface CloneSetup {
  /** The decision for each part. */
  plans: PartPlan[];
  /** The snapshot directories; null when no part clones. */
  snapshots: SnapshotDirs | null;
  floor: FloorPolicy;
}

/** Whether every part of the data set clones under the lock (none is left to a locked copy). */
export function clonesAll(setup: CloneSetup): boolean {
  return setup.plans.length > 0 && setup.plans.every((p) => p.mechanism.kind === "clone");
}

/**
 * Before `flush tables`: removes snapshot directories of killed donors (whatever `[sst] clone`
 * says), and unless it is `off` makes this SST's and probes them (`on`: a ConfigError when a
 * part cannot clone). One INFO line with every part's mechanism and why.
 */
export async function prepareClones(
  settings: Settings,
  cleanup: CleanupRegistry,
): Promise<CloneSetup> {
  // A directory that does not exist holds nothing to clone (the passes send nothing from it).
  const parts = cloneParts(settings.layout).filter((p) => deviceOf(p.dir) !== null);
  const floor: FloorPolicy = { fraction: DEFAULT_FLOOR.fraction, minBytes: settings.cloneFloor };
  if (settings.clone === "off") {
    await sweepStaleSnapshots(parts.map((p) => p.dir));
    const plans = await applyCloneSetting("off", parts, () => Promise.resolve([]));
    log.info(planLine(plans));
    return { plans, snapshots: null, floor };
  }
  const snapshots = await SnapshotDirs.create(parts, cleanup);
  const plans = await applyCloneSetting(
    settings.clone,
    parts,
    () => probeClones(snapshots, floor),
  );
  if (!plans.some((p) => p.mechanism.kind === "clone")) {
    await snapshots.removeAll();
    return { plans, snapshots: null, floor };
  }
  return { plans, snapshots, floor };
}

/** A part's directory and its clone root: the clone pass sends from `to` what `from` held. */
export interface SnapshotRoot {
  from: string;
  to: string;
}

/** What {@link cloneUnderLock} made. */
export interface ClonedCopy {
  /** What the locked pass still sends before `continue`; null: nothing. */
  locked: CopyPlan | null;
  /** What the clone pass sends, its sources on the live directories ({@link rebasePlan}). */
  clone: CopyPlan;
  /** The clone roots of the parts that clone. */
  roots: SnapshotRoot[];
  /** The clones made; `seconds`: the whole step under the lock. */
  run: CloneRun;
  /** The file systems that hold clones (for {@link guardClones}). */
  guarded: GuardedFs[];
  /**
   * Deletes the clone a clone-pass job (as the pass runs it: rebased) names `name`, as its
   * rsync prints it once it opened the file (rsync_runner.ts `OPENED_PREFIX`): rsync reads on
   * through its descriptor, and the server's writes stop having to go elsewhere once rsync
   * closes it. A name that is not exactly one clone's is left to {@link sent}.
   */
  opened(job: RsyncJob, name: string): void;
  /** Deletes the clones a clone-pass job (as the pass runs it: rebased) has sent. */
  sent(job: RsyncJob): void;
}

/**
 * The name rsync prints for each of `clones` sent by `job` (rebased): relative to a source
 * that ends in `/`, else to the source's parent. Two clones under one name are left out.
 */
function namesInJob(
  job: RsyncJob,
  clones: readonly ClonedFile[],
): Map<string, ClonedFile> {
  const names = new Map<string, ClonedFile | null>();
  for (const clone of clones) {
    const source = job.sources.find((src) =>
      src.endsWith("/")
        ? clone.path.startsWith(src)
        : clone.path === src || clone.path.startsWith(`${src}/`)
    );
    if (source === undefined) continue;
    const base = source.endsWith("/") ? source : source.slice(0, source.lastIndexOf("/") + 1);
    const name = clone.path.slice(base.length);
    names.set(name, names.has(name) ? null : clone);
  }
  const unique = new Map<string, ClonedFile>();
  for (const [name, clone] of names) if (clone) unique.set(name, clone);
  return unique;
}

/** The key of a job across its rebased and wired copies. */
function jobKey(job: RsyncJob): string {
  return `${job.module}\0${job.path ?? ""}\0${job.sources.join("\0")}`;
}

/** The part (longest directory) that holds `path`, or undefined. */
function partHolding(parts: readonly ClonePart[], path: string): ClonePart | undefined {
  let best: ClonePart | undefined;
  for (const p of parts) {
    if (
      (path === p.dir || path.startsWith(`${p.dir}/`)) && p.dir.length > (best?.dir.length ?? -1)
    ) {
      best = p;
    }
  }
  return best;
}

/** `path`'s name below part `p` (`""`: the part's directory). */
function inPart(p: ClonePart, path: string): string {
  const trimmed = path.replace(/(.)\/+$/, "$1");
  return trimmed === p.dir ? "" : trimmed.slice(p.dir.length + 1);
}

/** `source` rebased from its part's directory to the part's clone root. */
function rebaseSource(source: string, roots: readonly SnapshotRoot[]): string {
  let best: SnapshotRoot | undefined;
  for (const r of roots) {
    if (
      (source === r.from || source.startsWith(`${r.from}/`)) &&
      r.from.length > (best?.from.length ?? -1)
    ) {
      best = r;
    }
  }
  if (!best) throw new Error(`clone pass: ${source} is in no part that clones`);
  return best.to + source.slice(best.from.length);
}

/** `job` sending from the clone roots: the same module, path, names and options. */
export function rebaseJob(job: RsyncJob, roots: readonly SnapshotRoot[]): RsyncJob {
  return { ...job, sources: job.sources.map((s) => rebaseSource(s, roots)) };
}

/** `plan` sending from the clone roots ({@link rebaseJob} for the lead and every job). */
export function rebasePlan(plan: CopyPlan, roots: readonly SnapshotRoot[]): CopyPlan {
  return {
    ...plan,
    ...(plan.lead ? { lead: rebaseJob(plan.lead, roots) } : {}),
    jobs: plan.jobs.map((s) => ({ ...s, job: rebaseJob(s.job, roots) })),
  };
}

/** How one job of the locked plan is sent. */
interface JobSplit {
  clone: SizedJob | null;
  locked: SizedJob | null;
  clones: ClonedFile[];
}

/**
 * Under the lock: clones the files of `reads` where their part clones, and splits the plan
 * into the locked pass before `continue` and the clone pass after it (see the module's
 * table). Environment failures (a full file system) throw their {@link SstError}: the SST
 * fails under the lock, and its scope drops the clones.
 */
export async function cloneUnderLock(
  setup: CloneSetup,
  reads: LockedReads,
  walk: TreeWalk,
  dir: FileWriter,
): Promise<ClonedCopy> {
  const snapshots = setup.snapshots;
  if (!snapshots) throw new Error("cloneUnderLock without snapshot directories");
  const clock = new Stopwatch();
  const cloning = await stillCloning(setup, snapshots);
  const parts = setup.plans.map((p) => p.part);
  const run: CloneRun = { cloned: [], uncloned: [], bytes: 0n, seconds: 0 };
  const splits: JobSplit[] = [];
  const { plan } = reads;
  const otherTrees = plan.jobs.some((s) => s.job.selection.kind === "otherTrees");
  let schemaDirsMirrored = cloning.has(DATADIR_KEY) && !otherTrees;
  for (const [i, sized] of plan.jobs.entries()) {
    const split = await splitJob(sized, reads.reads[i], reads.dirs[i], {
      parts,
      cloning,
      snapshots,
      walk,
      dir,
      run,
      n: i,
    });
    if (sized.job.selection.kind === "trees" && split.clone === null) schemaDirsMirrored = false;
    splits.push(split);
  }
  const roots = [...cloning].map((key) => {
    const part = parts.find((p) => p.key === key)!;
    return { from: part.dir, to: snapshots.root(key) };
  });
  const byKey = new Map<string, ClonedFile[]>();
  const byName = new Map<string, Map<string, ClonedFile>>();
  const cloneJobs: SizedJob[] = [];
  const lockedJobs: SizedJob[] = [];
  for (const s of splits) {
    if (s.clone) {
      cloneJobs.push(s.clone);
      const rebased = rebaseJob(s.clone.job, roots);
      byKey.set(jobKey(rebased), s.clones);
      byName.set(jobKey(rebased), namesInJob(rebased, s.clones));
    }
    if (s.locked) lockedJobs.push(s.locked);
  }
  const leadWithClones = schemaDirsMirrored && plan.lead !== undefined &&
    snapshots.mirror(DATADIR_KEY, "") === null;
  const locked = lockedJobs.length > 0 || (!leadWithClones && plan.lead)
    ? planOf(lockedJobs, leadWithClones ? undefined : plan.lead)
    : null;
  const clone = planOf(cloneJobs, leadWithClones ? plan.lead : undefined);
  run.seconds = clock.elapsed() / 1000;
  logUncloned(run);
  return {
    locked,
    clone,
    roots,
    run,
    guarded: guardedOf(snapshots, cloning),
    opened(job, name) {
      const names = byName.get(jobKey(job));
      const clone = names?.get(name);
      if (!names || !clone) return;
      names.delete(name);
      releaseSync(clone);
    },
    sent(job) {
      for (const f of byKey.get(jobKey(job)) ?? []) releaseSync(f);
      byKey.delete(jobKey(job));
      byName.delete(jobKey(job));
    },
  };
}

function planOf(jobs: SizedJob[], lead: RsyncJob | undefined): CopyPlan {
  return { ...(lead ? { lead } : {}), jobs, total: jobs.reduce((n, s) => n + s.bytes, 0) };
}

/**
 * The keys of the parts that clone, after the floor is checked again under the lock: a file
 * system below it now clones nothing (its parts go to the locked pass; one WARNING).
 */
async function stillCloning(setup: CloneSetup, snapshots: SnapshotDirs): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const fs of snapshots.fileSystems) {
    const parts = setup.plans.filter((p) => p.dev === fs.dev && p.mechanism.kind === "clone");
    if (parts.length === 0 || fs.unusable) continue;
    try {
      checkFloor(guardOf(fs.path, fs.home), setup.floor);
    } catch (e) {
      if (!(e instanceof CloneSpaceError)) throw e;
      log.warn(`${e.message}: its files are sent by the locked pass instead`);
      await snapshots.drop(fs.dev);
      continue;
    }
    for (const p of parts) keys.add(p.part.key);
  }
  return keys;
}

function guardOf(path: string, home: string): GuardedFs {
  return { path, label: `${home} (${statFs(home)?.type ?? "unknown"})` };
}

function guardedOf(snapshots: SnapshotDirs, cloning: ReadonlySet<string>): GuardedFs[] {
  return snapshots.fileSystems
    .filter((fs) => !fs.unusable && fs.parts.some((p) => cloning.has(p.key)))
    .map((fs) => guardOf(fs.path, fs.home));
}

/** What {@link splitJob} needs besides the job. */
interface SplitContext {
  parts: readonly ClonePart[];
  cloning: ReadonlySet<string>;
  snapshots: SnapshotDirs;
  walk: TreeWalk;
  dir: FileWriter;
  /** Collects every clone made and every file that could not be. */
  run: CloneRun;
  /** The job's index (names its exclude lists). */
  n: number;
}

/** Clones `files` of `sized`'s job and decides how it is sent (the module's table). */
async function splitJob(
  sized: SizedJob,
  files: readonly SentFile[],
  dirs: readonly string[],
  c: SplitContext,
): Promise<JobSplit> {
  const { job } = sized;
  const whole: JobSplit = { clone: null, locked: sized, clones: [] };
  if (job.selection.kind === "otherTrees") return whole;
  const holders = new Set(job.sources.map((s) => partHolding(c.parts, s)));
  const part = holders.size === 1 ? [...holders][0] : undefined;
  if (!part || !c.cloning.has(part.key)) return whole;
  if (mirrorSources(job, dirs, part, c) !== null) return whole;
  const requests = files.map((f) => ({ part: part.key, rel: inPart(part, f.path) }));
  const out = c.snapshots.cloneAll(requests);
  c.run.cloned.push(...out.cloned);
  c.run.uncloned.push(...out.uncloned);
  c.run.bytes += out.bytes;
  if (out.uncloned.length === 0) return { clone: sized, locked: null, clones: out.cloned };
  const clonedRels = new Set(out.cloned.map((f) => f.rel));
  const [cloned, left] = [
    files.filter((f) => clonedRels.has(inPart(part, f.path))),
    files.filter((f) => !clonedRels.has(inPart(part, f.path))),
  ];
  const bytes = (fs: readonly SentFile[]) => fs.reduce((n, f) => n + f.info.size, 0);
  if (job.selection.kind === "files") {
    const only = (fs: readonly SentFile[]) => ({ ...job, sources: fs.map((f) => f.path) });
    return {
      clone: cloned.length > 0 ? { job: only(cloned), bytes: bytes(cloned) } : null,
      locked: { job: only(left), bytes: bytes(left) },
      clones: out.cloned,
    };
  }
  const rules = (fs: readonly SentFile[]) => fs.map((f) => exactRule(f.rel));
  const [clonedRules, leftRules] = [rules(cloned), rules(left)];
  if ([...clonedRules, ...leftRules].some((r) => r === null)) {
    for (const f of out.cloned) releaseSync(f);
    return whole;
  }
  const list = async (name: string, rs: (string | null)[]) =>
    await c.dir.write(`clone.${name}.${c.n}`, rs.join("\n") + "\n");
  return {
    clone: { job: excludingFrom(job, await list("locked", leftRules)), bytes: bytes(cloned) },
    locked: { job: excludingFrom(job, await list("cloned", clonedRules)), bytes: bytes(left) },
    clones: out.cloned,
  };
}

/**
 * Makes the directories a job's sources name in its part's clone root: a directory source
 * (`dir/`) itself; for a `trees` job, `dirs` (every directory below its sources, as the walk
 * under the lock listed them). Returns why one cannot be made (the job is then sent by the
 * locked pass), or null.
 */
function mirrorSources(
  job: RsyncJob,
  dirs: readonly string[],
  part: ClonePart,
  c: SplitContext,
): string | null {
  switch (job.selection.kind) {
    case "files":
      return null;
    case "trees": {
      // A tree's directories are named from its source's last component on (`rel`): its
      // parent's name below the part goes before them.
      const parents = new Map(job.sources.map((source) => {
        const base = inPart(part, source);
        const cut = base.lastIndexOf("/") + 1;
        return [base.slice(cut), base.slice(0, cut)];
      }));
      for (const rel of dirs) {
        const parent = parents.get(rel.split("/")[0]) ?? "";
        const why = c.snapshots.mirror(part.key, parent + rel);
        if (why !== null) return why;
      }
      return null;
    }
    default:
      for (const source of job.sources) {
        const why = c.snapshots.mirror(part.key, inPart(part, source));
        if (why !== null) return why;
      }
      return null;
  }
}

function releaseSync(f: ClonedFile): void {
  try {
    Deno.removeSync(f.path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Clones that took at least this long in all are worth naming (`[INFO]`, after `continue`). */
export const SLOW_CLONES_SECONDS = 0.1;

/**
 * After `continue`, before the clone pass opens any clone: when the clones took
 * {@link SLOW_CLONES_SECONDS} or more, one line naming the three slowest files, each with its
 * clone time and the pieces (extents) its clone is in, which is what makes a clone slow: the
 * operator learns which tables to rebuild (README "Clones and file fragments"). `pieces` counts
 * them (ficlone.ts `extentCount`); null when none is worth naming.
 */
export function slowClonesLine(
  run: CloneRun,
  pieces: (path: string) => number | null,
): string | null {
  if (run.seconds < SLOW_CLONES_SECONDS || run.cloned.length === 0) return null;
  const slowest = [...run.cloned].sort((a, b) => b.seconds - a.seconds).slice(0, 3);
  const named = slowest.map((f) => {
    const n = pieces(f.path);
    return `${f.source} ${f.seconds.toFixed(2)} s` + (n === null ? "" : ` (${n} pieces)`);
  });
  return `clones took ${run.seconds.toFixed(2)} s; slowest: ${named.join(", ")}: a clone costs ` +
    'per piece of its file on disk; README "Clones and file fragments" says how to rebuild a ' +
    "table in few pieces";
}

/** Logs {@link slowClonesLine} with the pieces the clones are in now, if there is one. */
export function logSlowClones(run: CloneRun): void {
  const line = slowClonesLine(run, extentCount);
  if (line) log.info(line);
}

/** One INFO line for the files the locked pass sends because they could not be cloned. */
function logUncloned(run: CloneRun): void {
  if (run.uncloned.length === 0) return;
  const first = run.uncloned[0];
  log.info(
    `clones: ${run.uncloned.length} file(s) could not be cloned and are sent under the lock ` +
      `(first: ${first.rel}: ${first.reason} (${first.errno}))`,
  );
}

/**
 * Watches free space on the file systems that hold clones (space_guard.ts) until stopped; when
 * it runs low, `onLow` gets the error (the donor stops the SST with it) and every clone is
 * deleted at once: the space returns to mariadbd before it needs it.
 */
export function guardClones(
  setup: CloneSetup,
  copy: ClonedCopy,
  opts: { signal: AbortSignal; onLow: (e: SstError) => void },
): SpaceWatch {
  const watch = watchSpace(copy.guarded, { policy: setup.floor, signal: opts.signal });
  watch.signal.addEventListener("abort", () => {
    const reason = watch.signal.reason;
    void setup.snapshots?.removeAll().catch(() => {});
    opts.onLow(
      reason instanceof SstError
        ? reason
        : new TransferError(`watching the clones' free space failed: ${String(reason)}`),
    );
  }, { once: true });
  return watch;
}
