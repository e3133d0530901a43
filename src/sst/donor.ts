/**
 * The donor, top to bottom as in docs/sst-protocol.md §3. Steps 1 and 2 write no protocol line:
 * they are the setup, `startDonor` (donor_start.ts), whose checked values `runDonor` takes;
 * `runDonor` does the rest and writes every protocol line itself, in this order:
 *
 * 1. parse the joiner's address and take the per-SST secret from the SST request
 *    (`WSREP_SST_OPT_REMOTE_AUTH`, or MariaDB 11.8's lines on stdin: donor_credentials.ts);
 *    compare our server's version with the joiner's (from its address): a pair on different
 *    sides of the 10.8 redo log change cannot work;
 * 2. check the TLS material, decide which name the joiner's certificate must carry, and open
 *    the tunnel every rsync runs through; a pair that cannot work is refused here, the joiner
 *    told through the tunnel (the refusal record), before anything is flushed or copied; for
 *    a full SST, `[sst] compress` checked against the local rsync;
 * 3. IST (`--bypass`): `continue`, then straight to 7. for the completion record and the
 *    final line;
 * 4. otherwise decide per part of the data set whether it clones under the lock (`[sst] clone`,
 *    transfer/clone_pass.ts: stale snapshot directories removed, a probe clone per file system,
 *    one INFO line), then plan the copy; with `[sst] precopy` (`auto`: not when every part
 *    clones), copy everything while the server still takes writes (the hot pass, through
 *    per-connection socat TLS clients, in parallel streams);
 * 5. `flush tables`, wait for mariadbd's `tables_flushed` (or `sst_error`);
 * 6. under the lock, list what the locked pass reads (after a pre-copy, what its record cannot
 *    vouch for); where parts clone, clone those files and send by a locked pass only what
 *    cannot be sent from clones; else copy it all under the lock (a delta pass after a
 *    pre-copy); with `--progress 1` the `total`/`complete` lines of the pass that ends the
 *    copy, written by the observer `runDonor` makes before 4.;
 * 7. `continue` (mariadbd releases the lock), one INFO line splitting the time writes were
 *    blocked (mariadbd's flush, our clones, our locked pass), a hint when mariadbd's flush was
 *    slow with `innodb_flush_log_at_trx_commit` 0 or 2 on XFS, and when the clones were slow a line
 *    naming the slowest files and the pieces they are in; the clone pass from the clones,
 *    with free space watched; the completion record (the state read under the lock), `done
 *    <state>`.
 *
 * A data set this program cannot copy whole (found in 4. or 6.) is refused: the joiner is sent
 * the refusal record instead of the completion record. What each kind of pass does is
 * transfer/pass.ts's.
 *
 * @module
 */
import type { ProtocolRun, SstContext } from "./context.ts";
import type { SstArgs } from "../core/args.ts";
import type { Settings } from "../config/settings.ts";
import { joinerCopy } from "../core/address.ts";
import {
  type DonorStart,
  notTold,
  sendRefusal,
  type ServerPair,
  startDonor,
} from "./donor_start.ts";
import {
  ExitCode,
  SstError,
  TimeoutError,
  TransferError,
  UnsupportedDataError,
} from "../core/errors.ts";
import { recordVersion, type ServerVersion } from "../core/server_version.ts";
import * as log from "../core/log.ts";
import type { PrivateDir } from "./private_dir.ts";
import type { Tunnel } from "../transfer/rsync_runner.ts";
import { type Pass, type PassObserver, runPass } from "../transfer/pass.ts";
import { type LockedReads, lockedReads, planCopy } from "../transfer/copy_plan.ts";
import {
  clonesAll,
  type CloneSetup,
  cloneUnderLock,
  guardClones,
  logSlowClones,
  prepareClones,
} from "../transfer/clone_pass.ts";
import { type CloneRun, cloneSummary, type SnapshotDirs } from "../transfer/snapshot_dir.ts";
import { slowFlushLine } from "../config/trx_commit.ts";
import { statFs } from "../proc/statfs.ts";
import type { SpaceWatch } from "../transfer/space_guard.ts";
import { COMPLETION_FILE, isValidState, renderCompletion } from "../transfer/completion.ts";
import { formatBytes } from "../transfer/progress.ts";
import { PHASE_FILE, renderPhaseNotice } from "../transfer/phase_notice.ts";
import { DonorTotals } from "../transfer/sst_totals.ts";
import { PRECOPY_AUTO_BYTES, wantsPrecopy } from "../config/precopy.ts";
import { chooseDelta } from "../config/delta.ts";
import { TreeWalk } from "../transfer/selection.ts";
import { PrecopyRecord } from "../transfer/precopy_record.ts";
import { fsFailure } from "../core/fs_errors.ts";
import { Stopwatch, waitFor } from "../proc/wait.ts";
import { systemTablespaceOf } from "../transfer/layout_files.ts";
import {
  checkOwnTablespace,
  MANIFEST_FILE,
  renderManifest,
} from "../transfer/tablespace_manifest.ts";
import { checkJoinerSpace } from "./space_check.ts";
import { JoinerSpaceError } from "../transfer/joiner_space.ts";

/**
 * Runs the donor side of an SST: its setup (steps 1 and 2, donor_start.ts), then its protocol;
 * its last INFO line has the totals, also on a failure.
 */
export async function runDonorWithTotals(ctx: SstContext): Promise<void> {
  const totals = new DonorTotals();
  try {
    await runDonor(ctx, await startDonor(ctx), totals);
  } catch (e) {
    log.info(totals.line(e));
    throw e;
  }
  log.info(totals.line(null));
}

/**
 * The donor from step 3, as the module documentation numbers it, once `startDonor` has done
 * 1 and 2: every protocol line it writes, in order; `totals` hears what each step did.
 */
export async function runDonor(
  ctx: ProtocolRun,
  start: DonorStart,
  totals: DonorTotals,
): Promise<void> {
  const { tunnel, dir, secret, pair, settings } = start;
  const refusing = (e: unknown) => refuseData(e, tunnel, dir, { secret, donor: pair.donor });
  let state: string;
  // Records the joiner reads with the completion record (the system tablespace's manifest).
  const before: string[] = [];
  if (ctx.args.bypass) {
    // 3. IST.
    state = bypassState(ctx.args);
    ctx.protocol.write("continue");
  } else {
    // With --progress, this observer writes the `total`/`complete` lines of the pass that ends
    // the SST (the locked one: its kind decides, transfer/pass.ts).
    const progress: PassObserver = {
      ...(ctx.args.progress ? { protocol: (line: string) => ctx.protocol.write(line) } : {}),
      ...passReports(dir, totals),
    };
    // 4. Whether each part clones under the lock (one INFO line); the plan; with a
    // pre-copy, the hot pass.
    const clones = await prepareClones(settings, ctx.scope);
    const copy = await planFirstPass(start, clonesAll(clones)).catch(refusing);
    if (copy.hot) await runPass(copy.hot, tunnel, progress);
    // 5. Flush and lock.
    await clearFlushMarkers(settings.layout.datadir);
    ctx.protocol.write("flush tables");
    totals.locked();
    const blocked = new Stopwatch();
    state = await tablesFlushed(settings, ctx.stopper.signal);
    const flushed = blocked.elapsed();
    // 6. Under the lock: the locked pass, or clones and the locked pass for what cannot be
    // sent from clones.
    const locked = await planLockedPass(settings, copy, dir).catch(refusing);
    const lock: LockFigures = { flushed, clones: null };
    const under: UnderLock = { tunnel, dir, progress, walk: copy.walk, locked, blocked, lock };
    const fromClones = clones.snapshots
      ? await cloneFrozenFiles(ctx, under, clones, clones.snapshots)
      : await sendLocked(under);
    // 7. `continue`: mariadbd releases the lock; one line splits how long it held (the totals
    // line repeats it), hints name a slow flush's setting and slow clones; then the clone pass.
    ctx.protocol.write("continue");
    totals.unlocked();
    lock.blocked = blocked.elapsed();
    log.info(lockLine(lock));
    const fsType = statFs(settings.layout.datadir)?.type;
    const flushHint = slowFlushLine({
      seconds: flushed / 1000,
      setting: settings.trxCommit,
      fsType,
      binlog: settings.layout.binlogBase !== undefined,
    });
    if (flushHint) log.info(flushHint);
    if (lock.clones) logSlowClones(lock.clones);
    totals.lockFigures(lockFigures(lock));
    if (fromClones) await sendFromClones(fromClones, under);
    const sent = renderManifest(systemTablespaceOf(settings.layout));
    before.push(await dir.write(MANIFEST_FILE, sent));
  }
  // 7. The completion record, then `done`.
  const record = await completionRecord(ctx.args.bypass, dir, state, secret, pair);
  await runPass({ kind: "completion", file: record, before }, tunnel, {});
  log.info(`SST complete on donor: state ${state}`);
  ctx.protocol.final(`done ${state}`);
}

/**
 * What the data passes report besides progress: each pass's phase notice, written here and
 * sent by the pass to the joiner (its progress lines), and each pass's figures (the totals).
 */
function passReports(dir: PrivateDir, totals: DonorTotals): PassObserver {
  return {
    notice: async (notice) => {
      await Deno.remove(`${dir.path}/${PHASE_FILE}`).catch(() => {});
      return await dir.write(PHASE_FILE, renderPhaseNotice(notice));
    },
    ended: (summary) => totals.passEnded(summary),
  };
}

/** Writes the completion record for `state` into the private directory; returns its path. */
async function completionRecord(
  bypass: boolean,
  dir: PrivateDir,
  state: string,
  secret: string,
  pair: ServerPair,
): Promise<string> {
  return await dir.write(
    COMPLETION_FILE,
    renderCompletion({
      state,
      secret,
      bypass,
      // Only a joiner that told its version reads ours (older ones refuse unknown lines).
      ...(pair.joiner ? { server: recordVersion(pair.donor) } : {}),
    }),
  );
}

/**
 * A data set this program cannot copy whole ({@link UnsupportedDataError}), or one the joiner
 * cannot hold ({@link JoinerSpaceError}, exit 28 on both sides), is refused: the joiner is told
 * why through the open tunnel. Throws `e` either way.
 */
async function refuseData(
  e: unknown,
  tunnel: Tunnel,
  dir: PrivateDir,
  by: { secret: string; donor: ServerVersion | null },
): Promise<never> {
  if (e instanceof UnsupportedDataError || e instanceof JoinerSpaceError) {
    const refusal = { secret: by.secret, server: recordVersion(by.donor), reason: e.message };
    const code = e instanceof JoinerSpaceError ? { code: ExitCode.noSpace } : {};
    await sendRefusal(tunnel, dir, { ...refusal, ...code }).catch(notTold);
  }
  throw e;
}

/** IST: the state to hand over, from `--gtid` and `--gtid-domain-id` (checked). */
function bypassState(args: SstArgs): string {
  const state = `${args.gtid ?? ""} ${args.gtidDomainId ?? "0"}`;
  if (!isValidState(state)) {
    throw new SstError(22, `--gtid '${args.gtid}' is not <uuid>:<seqno>; cannot hand over IST`);
  }
  return state;
}

/** Removes what an earlier `flush tables` left: the answer must be this run's. */
async function clearFlushMarkers(datadir: string): Promise<void> {
  await Deno.remove(`${datadir}/tables_flushed`).catch(() => {});
  await Deno.remove(`${datadir}/sst_error`).catch(() => {});
}

/**
 * Waits for mariadbd's answer to `flush tables`: `<datadir>/tables_flushed` holding the
 * state, or `<datadir>/sst_error`.
 */
async function tablesFlushed(settings: Settings, signal: AbortSignal): Promise<string> {
  const dd = settings.layout.datadir;
  const flushed = `${dd}/tables_flushed`;
  const failed = `${dd}/sst_error`;
  const limit = settings.timeouts.flush;
  return await waitFor(async () => {
    if (await Deno.stat(failed).then(() => true, () => false)) {
      await Deno.remove(failed).catch(() => {});
      throw new TransferError(
        "mariadbd could not flush and lock the tables (it wrote sst_error); see the server log above",
      );
    }
    const text = await Deno.readTextFile(flushed).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return "";
      throw fsFailure(e, { path: flushed, doing: "read", access: "read" });
    });
    if (text.includes(":")) {
      await Deno.remove(flushed).catch(() => {});
      const state = text.trim().split("\n")[0];
      if (!isValidState(state)) {
        throw new TransferError(`tables_flushed holds an invalid state '${state}'`);
      }
      log.info(`tables flushed and locked at ${state}`);
      return state;
    }
    return undefined;
  }, {
    every: 20, // the lock line counts this wait as mariadbd's flush: keep it short
    limit: limit * 1000 + 1,
    signal,
    onTimeout: () => {
      throw new TimeoutError(
        `mariadbd did not flush tables within [sst] tunnel-flush-timeout=${limit} s`,
      );
    },
  });
}

/** The copy as planned before the lock: the walk, the delta decision, and the hot pass if any. */
interface FirstPass {
  walk: TreeWalk;
  delta: boolean;
  /** The pre-copy, or null without one. */
  hot: (Pass & { kind: "hot" }) | null;
}

/**
 * Plans the copy with the server's writes stopped for as short a time as it can: planned and
 * checked before `flush tables`; with a pre-copy, the whole plan first runs while the server
 * still takes writes (a fuzzy copy the joiner never accepts on its own: no completion record
 * yet), then under the lock the same plan again as a delta pass ({@link planLockedPass});
 * without, one locked pass of whole files. Checks, through the tunnel `to`, that the joiner
 * can hold the copy, and decides the delta from what it holds.
 */
async function planFirstPass(start: DonorStart, clonesAll: boolean): Promise<FirstPass> {
  const { settings, tunnel, dir } = start;
  await checkOwnTablespace(systemTablespaceOf(settings.layout));
  const walk = new TreeWalk();
  const plan = await planCopy(settings, walk, false);
  const precopy = wantsPrecopy(settings.precopy, plan.total, clonesAll);
  const joiner = joinerCopy(start.joiner);
  await checkJoinerSpace(settings, { tunnel, dir, walk }, plan.jobs.map((j) => j.job), joiner);
  const delta = chooseDelta(settings.delta, start.programName, joiner);
  log.info(
    `delta transfer ${delta.on ? "on" : "off"} (${delta.why}): ` +
      (delta.on
        ? "every pass sends only the blocks that differ from the joiner's files"
        : precopy
        ? "the pre-copy sends whole files, the locked pass after it only differing blocks"
        : "whole files"),
  );
  if (!precopy) {
    if (settings.precopy === "auto") log.info(noPrecopyLine(plan.total, clonesAll));
    return { walk, delta: delta.on, hot: null };
  }
  const record = await PrecopyRecord.take(walk, plan.jobs.map((j) => j.job));
  return { walk, delta: delta.on, hot: { kind: "hot", plan, delta: delta.on, record } };
}

/** Why `[sst] precopy=auto` made no pre-copy. */
function noPrecopyLine(total: number, clonesAll: boolean): string {
  return clonesAll
    ? `[sst] precopy=auto: every part of the data set clones under the lock: no pre-copy ` +
      `(it would only add a copy of ${formatBytes(total)} to the SST)`
    : `[sst] precopy=auto: ${formatBytes(total)} to copy, below ` +
      `${formatBytes(PRECOPY_AUTO_BYTES)}: one locked pass`;
}

/** What the lock is for: the files to read under it, and whether passes compare blocks. */
interface LockedPlan {
  reads: LockedReads;
  delta: boolean;
}

/**
 * The pass under the lock: the data set listed again (a schema created meanwhile is in it);
 * after a pre-copy, a delta pass that compares the content of every file the pre-copy cannot
 * vouch for (precopy_record.ts) and sends what differs. `reads`: those files (what the clone
 * pass clones).
 */
async function planLockedPass(
  settings: Settings,
  first: FirstPass,
  dir: PrivateDir,
): Promise<LockedPlan> {
  const plan = await planCopy(settings, first.walk, true);
  const record = first.hot?.record ?? null;
  const reads = await lockedReads(plan, record, first.walk, dir);
  return { reads, delta: record !== null || first.delta };
}

/** What the steps from the lock to the end of the data's transfer share. */
interface UnderLock {
  tunnel: Tunnel;
  dir: PrivateDir;
  /** Writes the `total`/`complete` lines (`--progress 1`) of the pass that ends the copy. */
  progress: PassObserver;
  walk: TreeWalk;
  locked: LockedPlan;
  /** Started at `flush tables`. */
  blocked: Stopwatch;
  /** Filled in as the steps run. */
  lock: LockFigures;
}

/** 6. without clones: the locked pass. Returns null: nothing is left for after the lock. */
async function sendLocked(u: UnderLock): Promise<null> {
  const sent = new Stopwatch();
  const pass: Pass = { kind: "locked", plan: u.locked.reads.plan, delta: u.locked.delta };
  await runPass(pass, u.tunnel, u.progress);
  u.lock.lockedPass = sent.elapsed();
  return null;
}

/** What is left for after the lock when files were cloned. */
interface FromClones {
  /** The clone pass, or null when nothing could be cloned. */
  pass: Pass | null;
  watch: SpaceWatch;
  snapshots: SnapshotDirs;
}

/**
 * 6. with clones (transfer/clone_pass.ts): clones the files the locked pass would read, starts
 * watching free space, and sends by a locked pass what cannot be sent from clones. Returns the
 * clone pass for after `continue`.
 */
async function cloneFrozenFiles(
  ctx: Pick<ProtocolRun, "stopper" | "scope">,
  u: UnderLock,
  clones: CloneSetup,
  snapshots: SnapshotDirs,
): Promise<FromClones> {
  const cloned = await cloneUnderLock(clones, u.locked.reads, u.walk, u.dir);
  u.lock.clones = cloned.run;
  const watch = guardClones(clones, cloned, {
    signal: ctx.stopper.signal,
    onLow: (e) => ctx.stopper.stop(e),
  });
  ctx.scope.defer("stop watching the clones' free space", () => watch.stop());
  const nothingCloned = cloned.clone.jobs.length === 0 && !cloned.clone.lead;
  if (cloned.locked) {
    const sent = new Stopwatch();
    const pass: Pass = { kind: "locked", plan: cloned.locked, delta: u.locked.delta };
    // The clone pass after it writes the protocol's progress lines; this one only reports.
    const quiet: PassObserver = { notice: u.progress.notice, ended: u.progress.ended };
    await runPass(pass, u.tunnel, nothingCloned ? u.progress : quiet);
    u.lock.lockedPass = sent.elapsed();
  }
  const pass: Pass | null = nothingCloned ? null : {
    kind: "clone",
    plan: cloned.clone,
    delta: u.locked.delta,
    roots: cloned.roots,
    opened: cloned.opened,
    sent: cloned.sent,
  };
  return { pass, watch, snapshots };
}

/** After `continue`: the clone pass, free space watched until it ends and every clone is gone. */
async function sendFromClones(f: FromClones, u: UnderLock): Promise<void> {
  if (f.pass) await runPass(f.pass, u.tunnel, u.progress);
  await f.watch.stop();
  await f.snapshots.removeAll();
}

/** How the lock was spent, in seconds (of a {@link Stopwatch}: ms). */
interface LockFigures {
  /** From `flush tables` to `tables_flushed` (mariadbd's flush), ms. */
  flushed: number;
  /** The clones made under the lock, or null (no part clones). */
  clones: CloneRun | null;
  /** The locked pass, ms (none when everything was cloned). */
  lockedPass?: number;
  /** From `flush tables` to `continue`, ms. */
  blocked?: number;
}

/**
 * `donor writes blocked for 0.41 s (mariadbd's flush 0.30 s, clones 0.08 s for 312 files)`:
 * which part of the stop is mariadbd's and which ours.
 */
function lockLine(f: LockFigures): string {
  return `donor writes blocked for ${lockFigures(f)}`;
}

/** `0.41 s (mariadbd's flush 0.30 s, clones 0.08 s for 312 files)`. */
function lockFigures(f: LockFigures): string {
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const parts = [`mariadbd's flush ${s(f.flushed)} s`];
  if (f.clones) parts.push(cloneSummary(f.clones));
  if (f.lockedPass !== undefined) parts.push(`locked pass ${s(f.lockedPass)} s`);
  return `${s(f.blocked ?? 0)} s (${parts.join(", ")})`;
}
