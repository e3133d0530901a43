/**
 * The donor, top to bottom as in docs/sst-protocol.md §3; `runDonor` writes every protocol line itself, in
 * this order:
 *
 * 1. parse the joiner's address and take the per-SST secret from the SST request
 *    (`WSREP_SST_OPT_REMOTE_AUTH`, or MariaDB 11.8's lines on stdin: donor_credentials.ts);
 *    compare our server's version with the joiner's (from its address): a pair on different
 *    sides of the 10.8 redo log change cannot work;
 * 2. check the TLS material, decide which name the joiner's certificate must carry, and open
 *    the tunnel every rsync runs through; a pair that cannot work is refused here, the joiner
 *    told through the tunnel (the refusal record), before anything is flushed or copied;
 * 3. IST (`--bypass`): `continue`, then (7.) only the completion record and `done`;
 * 4. otherwise plan the copy; decide per part of the data set whether it clones under the lock
 *    (`[sst] clone`, transfer/clone_pass.ts: stale snapshot directories removed, a probe clone
 *    per file system, one INFO line); with `[sst] precopy`, copy everything while the server
 *    still takes writes (the hot pass, through per-connection socat TLS clients, in parallel
 *    streams);
 * 5. `flush tables`, wait for mariadbd's `tables_flushed` (or `sst_error`);
 * 6. under the lock, list what the locked pass reads (after a pre-copy, what its record cannot
 *    vouch for); where parts clone, clone those files and send by a locked pass only what
 *    cannot be sent from clones; else copy it all under the lock (a delta pass after a
 *    pre-copy); with `--progress 1` the `total`/`complete` lines of the pass that ends the
 *    copy, written by the observer `runDonor` makes before 4.;
 * 7. `continue` (mariadbd releases the lock), one INFO line splitting the time writes were
 *    blocked (mariadbd's flush, our clones, our locked pass); the clone pass from the clones,
 *    with free space watched; the completion record (the state read under the lock), `done
 *    <state>`.
 *
 * A data set this program cannot copy whole (found in 4. or 6.) is refused: the joiner is sent
 * the refusal record instead of the completion record. What each kind of pass does is
 * transfer/pass.ts's.
 *
 * @module
 */
import type { SstContext } from "./context.ts";
import {
  checkDonorPath,
  type Endpoint,
  hostForAddress,
  joinerCopy,
  joinerServerVersion,
  parseEndpoint,
} from "../core/address.ts";
import { donorSecret } from "./donor_credentials.ts";
import {
  ConfigError,
  ExitCode,
  SstError,
  TimeoutError,
  TransferError,
  UnsupportedDataError,
} from "../core/errors.ts";
import {
  type Compatibility,
  compatibility,
  describePair,
  recordVersion,
  type ServerVersion,
} from "../core/server_version.ts";
import { candidatePids, serverVersion } from "../proc/server_process.ts";
import * as log from "../core/log.ts";
import { addSecret } from "../core/log.ts";
import { makePrivateDir, type PrivateDir, privateDirError } from "./private_dir.ts";
import { checkTls, describeSslMode, tlsOptionsOf, verificationOff } from "../tunnel/tls_setup.ts";
import {
  connectAddress,
  disablesVerification,
  SOCAT_TRANSFER_BUFFER,
  type TlsOptions,
} from "../tunnel/socat_address.ts";
import {
  certificateNames,
  choosePeerName,
  fetchPeerCertificate,
  identityOf,
  peerNameCandidates,
} from "../tunnel/peer_probe.ts";
import { rshSetup } from "../tunnel/rsh_command.ts";
import type { Tunnel } from "../transfer/rsync_runner.ts";
import { type Pass, type PassObserver, runPass } from "../transfer/pass.ts";
import { type LockedReads, lockedReads, planCopy } from "../transfer/copy_plan.ts";
import {
  type CloneSetup,
  cloneUnderLock,
  guardClones,
  prepareClones,
} from "../transfer/clone_pass.ts";
import { type CloneRun, cloneSummary, type SnapshotDirs } from "../transfer/snapshot_dir.ts";
import type { SpaceWatch } from "../transfer/space_guard.ts";
import {
  COMPLETION_FILE,
  isValidState,
  type RefusalRecord,
  renderCompletion,
  renderRefusal,
} from "../transfer/completion.ts";
import { formatBytes } from "../transfer/progress.ts";
import { PHASE_FILE, renderPhaseNotice } from "../transfer/phase_notice.ts";
import { DonorTotals } from "../transfer/sst_totals.ts";
import { PRECOPY_AUTO_BYTES, wantsPrecopy } from "../config/precopy.ts";
import { chooseDelta } from "../config/delta.ts";
import { TreeWalk } from "../transfer/selection.ts";
import { PrecopyRecord } from "../transfer/precopy_record.ts";
import { parseCompressList, type WireSettings } from "../config/wire_options.ts";
import { run } from "../proc/process.ts";
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

/** Runs the donor side of an SST; its last INFO line has the totals, also on a failure. */
export async function runDonorWithTotals(ctx: SstContext): Promise<void> {
  const totals = new DonorTotals();
  try {
    await runDonor(ctx, totals);
  } catch (e) {
    log.info(totals.line(e));
    throw e;
  }
  log.info(totals.line(null));
}

/** The donor, step by step as the module documentation numbers them: every protocol line it writes, in order; `totals` hears what each step did. */
export async function runDonor(ctx: SstContext, totals: DonorTotals): Promise<void> {
  // 1. The joiner, the per-SST secret, the pair of servers.
  const joiner = parseEndpoint(ctx.args.address);
  checkDonorPath(joiner, ctx.args.address);
  // 10.x: in the environment; 11.8: on stdin (read first: mariadbd wrote it at our start).
  const secret = await donorSecret(ctx.env("WSREP_SST_OPT_REMOTE_AUTH"), ctx.stdin, {
    signal: ctx.stopper.signal,
  });
  addSecret(secret);
  const pair = await checkServerVersions(ctx, joiner);
  // 2. TLS and the tunnel; a pair that cannot work is refused through it.
  const opening = openTunnel(ctx, joiner, secret);
  if (pair.verdict.kind === "refuse") await refusePair(opening, secret, pair);
  const { tunnel, dir, peerName } = await opening;
  log.info(
    `rsync_tunnel SST started on donor: to ${tunnel.peer} (` +
      (peerName === null
        ? "certificate name not checked: ssl-mode=VERIFY_CA"
        : `certificate name must be '${peerName}'`) +
      `)${ctx.args.bypass ? ", IST: only the completion record" : ""}`,
  );
  const refusing = (e: unknown) => refuseData(e, tunnel, dir, { secret, donor: pair.donor });
  let state: string;
  // Records the joiner reads with the completion record (the system tablespace's manifest).
  const before: string[] = [];
  if (ctx.args.bypass) {
    // 3. IST.
    state = bypassState(ctx);
    ctx.protocol.write("continue");
  } else {
    // With --progress, this observer writes the `total`/`complete` lines of the pass that ends
    // the SST (the locked one: its kind decides, transfer/pass.ts).
    const progress: PassObserver = {
      ...(ctx.args.progress ? { protocol: (line: string) => ctx.protocol.write(line) } : {}),
      ...passReports(dir, totals),
    };
    // 4. The plan; whether each part clones under the lock (one INFO line); with a
    // pre-copy, the hot pass.
    const copy = await planFirstPass(ctx, { tunnel, dir }).catch(refusing);
    const clones = await prepareClones(ctx.settings, ctx.scope);
    if (copy.hot) await runPass(copy.hot, tunnel, progress);
    // 5. Flush and lock.
    await clearFlushMarkers(ctx.settings.layout.datadir);
    ctx.protocol.write("flush tables");
    totals.locked();
    const blocked = new Stopwatch();
    state = await tablesFlushed(ctx);
    const flushed = blocked.elapsed();
    // 6. Under the lock: the locked pass, or clones and the locked pass for what cannot be
    // sent from clones.
    const locked = await planLockedPass(ctx, copy, dir).catch(refusing);
    const lock: LockFigures = { flushed, clones: null };
    const under: UnderLock = { tunnel, dir, progress, walk: copy.walk, locked, blocked, lock };
    const fromClones = clones.snapshots
      ? await cloneFrozenFiles(ctx, under, clones, clones.snapshots)
      : await sendLocked(under);
    // 7. `continue`: mariadbd releases the lock; one line splits how long it held (the totals
    // line repeats it); then the clone pass.
    ctx.protocol.write("continue");
    totals.unlocked();
    lock.blocked = blocked.elapsed();
    log.info(lockLine(lock));
    totals.lockFigures(lockFigures(lock));
    if (fromClones) await sendFromClones(fromClones, under);
    const sent = renderManifest(systemTablespaceOf(ctx.settings.layout));
    before.push(await dir.write(MANIFEST_FILE, sent));
  }
  // 7. The completion record, then `done`.
  const record = await completionRecord(ctx, dir, state, secret, pair);
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
  ctx: SstContext,
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
      bypass: ctx.args.bypass,
      // Only a joiner that told its version reads ours (older ones refuse unknown lines).
      ...(pair.joiner ? { server: recordVersion(pair.donor) } : {}),
    }),
  );
}

/** Both servers' versions and the verdict on the pair. */
interface ServerPair {
  donor: ServerVersion | null;
  joiner: ServerVersion | null;
  verdict: Compatibility;
}

/**
 * Our server's version (from the mariadbd above us) against the one the joiner advertised:
 * one INFO line with both, one WARNING line for a newer donor than joiner. Before anything
 * is flushed or copied, so that a pair that cannot work is refused with nothing touched.
 */
async function checkServerVersions(ctx: SstContext, joiner: Endpoint): Promise<ServerPair> {
  const ours = await serverVersion(ctx.adapter, candidatePids(undefined));
  const theirs = joinerServerVersion(joiner);
  if (!ours.version) log.info(`this server's version is not known: ${ours.source}`);
  const verdict = compatibility(ours.version, theirs);
  log.info(describePair(ours.version, theirs, verdict));
  if (verdict.kind === "warn") log.warn(verdict.message);
  return { donor: ours.version, joiner: theirs, verdict };
}

/**
 * Refuses a pair of servers that cannot work together: sends the refusal record where the
 * completion record would go (through the verified tunnel being opened, with the per-SST
 * secret), so that the joiner fails with our reason, and throws it, told or not.
 */
async function refusePair(
  opening: Promise<OpenTunnel>,
  secret: string,
  pair: ServerPair,
): Promise<never> {
  const reason = pair.verdict.kind === "refuse" ? pair.verdict.message : "";
  const told = async () => {
    const { tunnel, dir } = await opening;
    await sendRefusal(tunnel, dir, { secret, server: recordVersion(pair.donor), reason });
  };
  await told().catch(notTold);
  throw new SstError(ExitCode.unsupportedPair, reason);
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

/** Sends `refusal` where the completion record would go, through an open tunnel. */
async function sendRefusal(tunnel: Tunnel, dir: PrivateDir, refusal: RefusalRecord): Promise<void> {
  const file = await dir.write(COMPLETION_FILE, renderRefusal(refusal));
  await runPass({ kind: "refusal", file }, tunnel, {});
  log.info(`told the joiner ${tunnel.peer} that this SST is refused`);
}

/** The refusal stays the cause when the joiner could not be told about it. */
function notTold(e: unknown): void {
  log.warn(
    `could not tell the joiner why this SST is refused (${
      e instanceof Error ? e.message : String(e)
    }); its log will only show that the SST failed`,
  );
}

/** The tunnel to the joiner, the private directory beside it, the joiner's certificate name. */
interface OpenTunnel {
  tunnel: Tunnel;
  dir: PrivateDir;
  /** null: `ssl-mode=VERIFY_CA`, no name checked. */
  peerName: string | null;
}

/**
 * Checks the TLS material, decides which name the joiner's certificate must carry (one
 * verified handshake), and prepares the per-connection socat client rsync runs.
 */
async function openTunnel(
  ctx: SstContext,
  joiner: Endpoint,
  secret: string,
): Promise<OpenTunnel> {
  const tls = tlsOptionsOf(await checkTls(ctx.settings, "donor", ctx.adapter));
  const peerName = await joinerCertificateName(ctx, joiner, tls);
  const dir = await makePrivateDir(
    ctx.settings.tmpdir,
    ctx.scope,
    ctx.settings.layout.datadir,
  );
  const tunnel = await prepareTunnel(ctx, dir, joiner, { tls, peerName, secret });
  return { tunnel, dir, peerName };
}

/**
 * The donor's end of the tunnel: the socat TLS client rsync runs for each connection (its
 * `--rsh`), and the 0600 password file with the per-SST secret.
 */
async function prepareTunnel(
  ctx: SstContext,
  dir: PrivateDir,
  joiner: Endpoint,
  t: { tls: TlsOptions; peerName: string | null; secret: string },
): Promise<Tunnel> {
  const s = ctx.settings;
  const peer = `${hostForAddress(joiner.host)}:${joiner.port}`;
  const statusDir = `${dir.path}/status`;
  await Deno.mkdir(statusDir, { mode: 0o700 }).catch((e) => {
    throw privateDirError(dir.path, { doing: "create", path: statusDir }, e);
  });
  const connect = connectAddress({
    host: joiner.host,
    port: joiner.port,
    peerName: t.peerName,
    connectTimeoutSec: s.timeouts.connect,
    tls: t.tls,
    sockopt: s.sockopt,
  });
  // -t 0: once either side has closed, the rsync session is over; don't wait for the other
  // direction (rsync waits for its remote shell to exit, so every second here is per
  // connection). socat's inactivity limit sits above rsync's own, so rsync reports an idle
  // peer (exit 30).
  const socatArgs = [
    ...SOCAT_TRANSFER_BUFFER,
    "-t",
    "0",
    "-T",
    String(s.timeouts.idle + 5),
    "STDIO",
    connect,
  ];
  log.info(
    `tunnel: rsync --rsh runs, for each connection, ${ctx.tools.socat} -lf ` +
      `${statusDir}/socat-<its pid>.log ${socatArgs.join(" ")}`,
  );
  return {
    adapter: ctx.adapter,
    rsync: ctx.tools.rsync,
    rsh: rshSetup({ socat: ctx.tools.socat, args: socatArgs, logDir: statusDir }),
    passwordFile: await dir.write("rsync.password", t.secret + "\n"),
    idleTimeoutSec: s.timeouts.idle,
    statusDir,
    peer,
    wire: s.wire,
    streams: s.backupThreads,
    stop: ctx.stopper,
    recordGroup: (pgid) => ctx.lock.recordGroup(pgid),
    relayed: new Set(),
  };
}

/**
 * The name the joiner's certificate must carry: the host name as addressed, or for an IP the IP
 * itself, or the system resolver's name for it when that name resolves back to the IP —
 * whichever the certificate (fetched by one verified handshake) is issued for. socat then enforces that name on every connection.
 * null with `ssl-mode=VERIFY_CA`: the probe verified the chain (both ways), no name is checked.
 */
async function joinerCertificateName(
  ctx: SstContext,
  joiner: Endpoint,
  tls: TlsOptions,
): Promise<string | null> {
  const host = joiner.host;
  const candidates = await peerNameCandidates(ctx.adapter, host);
  const peer = `${hostForAddress(host)}:${joiner.port}`;
  if (verificationOff(ctx.settings)) {
    const why = disablesVerification(ctx.settings.sockopt)
      ? "[sst] sockopt"
      : describeSslMode(ctx.settings);
    log.warn(`certificate verification is off (${why}); not checking joiner ${peer}`);
    return candidates[0];
  }
  const leaf = await fetchPeerCertificate(ctx.adapter, {
    target: hostForAddress(host),
    port: joiner.port,
    tls,
    timeoutSec: ctx.settings.timeouts.connect,
    peer,
    signal: ctx.stopper.signal,
  });
  if (ctx.settings.tls.mode === "VERIFY_CA") {
    log.info(
      `joiner ${peer} presents ${certificateNames(leaf)}; chain verified, name not checked ` +
        `(${describeSslMode(ctx.settings)})`,
    );
    return null;
  }
  const chosen = choosePeerName(leaf, candidates, peer);
  log.info(
    `joiner ${peer} presents ${certificateNames(leaf)}; checking name '${chosen}' ` +
      `(${identityOf(chosen, host)})`,
  );
  return chosen;
}

function bypassState(ctx: SstContext): string {
  const state = `${ctx.args.gtid ?? ""} ${ctx.args.gtidDomainId ?? "0"}`;
  if (!isValidState(state)) {
    throw new SstError(22, `--gtid '${ctx.args.gtid}' is not <uuid>:<seqno>; cannot hand over IST`);
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
async function tablesFlushed(ctx: SstContext): Promise<string> {
  const dd = ctx.settings.layout.datadir;
  const flushed = `${dd}/tables_flushed`;
  const failed = `${dd}/sst_error`;
  const limit = ctx.settings.timeouts.flush;
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
    signal: ctx.stopper.signal,
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
async function planFirstPass(
  ctx: SstContext,
  to: { tunnel: Tunnel; dir: PrivateDir },
): Promise<FirstPass> {
  await checkWire(ctx, ctx.settings.wire);
  await checkOwnTablespace(systemTablespaceOf(ctx.settings.layout));
  const walk = new TreeWalk();
  const plan = await planCopy(ctx.settings, walk, false);
  const precopy = wantsPrecopy(ctx.settings.precopy, plan.total);
  const joiner = joinerCopy(parseEndpoint(ctx.args.address));
  await checkJoinerSpace(
    ctx,
    { tunnel: to.tunnel, dir: to.dir, walk },
    plan.jobs.map((j) => j.job),
    joiner,
  );
  const delta = chooseDelta(ctx.settings.delta, ctx.programName, joiner);
  log.info(
    `delta transfer ${delta.on ? "on" : "off"} (${delta.why}): ` +
      (delta.on
        ? "every pass sends only the blocks that differ from the joiner's files"
        : precopy
        ? "the pre-copy sends whole files, the locked pass after it only differing blocks"
        : "whole files"),
  );
  if (!precopy) {
    if (ctx.settings.precopy === "auto") {
      log.info(
        `[sst] precopy=auto: ${formatBytes(plan.total)} to copy, below ` +
          `${formatBytes(PRECOPY_AUTO_BYTES)}: one locked pass`,
      );
    }
    return { walk, delta: delta.on, hot: null };
  }
  const record = await PrecopyRecord.take(walk, plan.jobs.map((j) => j.job));
  return { walk, delta: delta.on, hot: { kind: "hot", plan, delta: delta.on, record } };
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
  ctx: SstContext,
  first: FirstPass,
  dir: PrivateDir,
): Promise<LockedPlan> {
  const plan = await planCopy(ctx.settings, first.walk, true);
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
  ctx: SstContext,
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

/** Fails with the key's name when the local rsync cannot use the configured compression. */
async function checkWire(ctx: SstContext, wire: WireSettings): Promise<WireSettings> {
  if (!wire.compress) return wire;
  const r = await run(ctx.adapter, { cmd: ctx.tools.rsync, args: ["--version"] }, {
    timeoutMs: 10_000,
    signal: ctx.stopper.signal,
  });
  const list = parseCompressList(r.stdout);
  if (!list?.includes(wire.compress)) {
    throw new ConfigError(
      `[sst] compress=${wire.compress}: ${ctx.tools.rsync} (version ${ctx.tools.rsyncVersion}) ` +
        `${
          list ? `only offers ${list.join(", ")}` : "has no --compress-choice (needs rsync 3.2+)"
        }; ` +
        "choose one it lists on both nodes, or remove the key",
    );
  }
  return wire;
}
