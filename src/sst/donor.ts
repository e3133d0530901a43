/**
 * The donor, top to bottom as in spec §3:
 *
 * 1. parse the joiner's address and take the per-SST secret from the SST request
 *    (`WSREP_SST_OPT_REMOTE_AUTH`, or MariaDB 11.8's lines on stdin: donor_credentials.ts);
 *    compare our server's version with the joiner's (from its address): a pair on different
 *    sides of the 10.8 redo log change is refused here, the joiner told through the tunnel;
 * 2. check the TLS material and decide which name the joiner's certificate must carry;
 * 3. IST (`--bypass`): `continue`, send only the completion record, `done`;
 * 4. otherwise plan the copy; with `[sst] precopy`, copy everything while the server still
 *    takes writes (through per-connection socat TLS clients, in parallel streams);
 * 5. `flush tables`, wait for mariadbd's `tables_flushed` (or `sst_error`);
 * 6. copy the data set under the lock (a delta pass after a pre-copy);
 * 7. `continue` (mariadbd releases the lock), send the completion record, `done <state>`.
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
import {
  type Lanes,
  runJob,
  type RunnerContext,
  runPool,
  SHORT_JOB_BYTES,
  type SizedJob,
} from "../transfer/rsync_runner.ts";
import {
  binlogJob,
  completionJob,
  engineFileJobs,
  excludingFrom,
  listSchemaDirs,
  otherDirsJob,
  type RsyncJob,
  schemaJobs,
  streamLoads,
  structureJob,
  undecodableDirs,
  withDeltaBlock,
} from "../transfer/passes.ts";
import { selectBinlogs } from "../transfer/binlogs.ts";
import type { RsyncLine } from "../transfer/rsync_failures.ts";
import {
  COMPLETION_FILE,
  isValidState,
  type RefusalRecord,
  renderCompletion,
  renderRefusal,
} from "../transfer/completion.ts";
import {
  findRemoteTableFiles,
  linkedFilesMessage,
  remoteTablespaceMessage,
} from "../transfer/remote_tables.ts";
import { formatBytes, TransferProgress } from "../transfer/progress.ts";
import { PRECOPY_AUTO_BYTES, wantsPrecopy } from "../config/precopy.ts";
import { chooseDelta } from "../config/delta.ts";
import { TreeWalk } from "../transfer/selection.ts";
import { exactRule, PrecopyRecord, writableMappings } from "../transfer/precopy_record.ts";
import {
  describeWire,
  isCapped,
  parseCompressList,
  rsyncWireOptions,
  type WireSettings,
} from "../config/wire_options.ts";
import { run } from "../proc/process.ts";
import { fsFailure } from "../core/fs_errors.ts";
import { waitFor } from "../proc/wait.ts";
import { systemTablespaceOf } from "../transfer/layout_files.ts";
import {
  checkOwnTablespace,
  MANIFEST_FILE,
  renderManifest,
} from "../transfer/tablespace_manifest.ts";
import { checkJoinerSpace } from "./space_check.ts";
import { JoinerSpaceError } from "../transfer/joiner_space.ts";

/** Runs the donor side of an SST. */
export async function runDonor(ctx: SstContext): Promise<void> {
  const { args } = ctx;
  const joiner = parseEndpoint(args.address);
  checkDonorPath(joiner, args.address);
  // 10.x: in the environment; 11.8: on stdin (read first: mariadbd wrote it at our start).
  const secret = await donorSecret(ctx.env("WSREP_SST_OPT_REMOTE_AUTH"), ctx.stdin, {
    signal: ctx.stopper.signal,
  });
  addSecret(secret);
  const pair = await checkServerVersions(ctx, joiner);
  if (pair.verdict.kind === "refuse") {
    const refusal = new SstError(ExitCode.unsupportedPair, pair.verdict.message);
    await tellJoinerRefusal(ctx, joiner, secret, pair.donor, refusal.message).catch(notTold);
    throw refusal;
  }
  const { runner, dir, peerName } = await openTunnel(ctx, joiner, secret);
  log.info(
    `rsync_tunnel SST started on donor: to ${runner.peer} (` +
      (peerName === null
        ? "certificate name not checked: ssl-mode=VERIFY_CA"
        : `certificate name must be '${peerName}'`) +
      `)${args.bypass ? ", IST: only the completion record" : ""}`,
  );

  let state: string;
  const before: string[] = [];
  if (args.bypass) {
    state = bypassState(ctx);
    ctx.protocol.write("continue");
  } else {
    state = await copyWithLock(ctx, runner, dir).catch(async (e) => {
      if (e instanceof UnsupportedDataError || e instanceof JoinerSpaceError) {
        const refusal = { secret, server: recordVersion(pair.donor), reason: e.message };
        const code = e instanceof JoinerSpaceError ? { code: ExitCode.noSpace } : {};
        await sendRefusal(runner, dir, { ...refusal, ...code }).catch(notTold);
      }
      throw e;
    });
    const sent = renderManifest(systemTablespaceOf(ctx.settings.layout));
    before.push(await dir.write(MANIFEST_FILE, sent));
  }
  const record = await dir.write(
    COMPLETION_FILE,
    renderCompletion({
      state,
      secret,
      bypass: args.bypass,
      // Only a joiner that told its version reads ours (older ones refuse unknown lines).
      ...(pair.joiner ? { server: recordVersion(pair.donor) } : {}),
    }),
  );
  await runJob(completionJob(record, before), runner);
  log.info(`SST complete on donor: state ${state}`);
  ctx.protocol.final(`done ${state}`);
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
 * Sends the refusal record where the completion record would go (through the same verified
 * tunnel, with the per-SST secret), so that the joiner fails with our reason.
 */
async function tellJoinerRefusal(
  ctx: SstContext,
  joiner: Endpoint,
  secret: string,
  donor: ServerVersion | null,
  reason: string,
): Promise<void> {
  const { runner, dir } = await openTunnel(ctx, joiner, secret);
  await sendRefusal(runner, dir, { secret, server: recordVersion(donor), reason });
}

/** Sends `refusal` where the completion record would go, through an open tunnel. */
async function sendRefusal(
  runner: RunnerContext,
  dir: PrivateDir,
  refusal: RefusalRecord,
): Promise<void> {
  const file = await dir.write(COMPLETION_FILE, renderRefusal(refusal));
  await runJob(completionJob(file), runner);
  log.info(`told the joiner ${runner.peer} that this SST is refused`);
}

/** The refusal stays the cause when the joiner could not be told about it. */
function notTold(e: unknown): void {
  log.warn(
    `could not tell the joiner why this SST is refused (${
      e instanceof Error ? e.message : String(e)
    }); its log will only show that the SST failed`,
  );
}

/**
 * Checks the TLS material, decides which name the joiner's certificate must carry (one
 * verified handshake), and prepares the per-connection socat client rsync runs.
 */
async function openTunnel(
  ctx: SstContext,
  joiner: Endpoint,
  secret: string,
): Promise<{ runner: RunnerContext; dir: PrivateDir; peerName: string | null }> {
  const tls = tlsOptionsOf(await checkTls(ctx.settings, "donor", ctx.adapter));
  const peerName = await joinerCertificateName(ctx, joiner, tls);
  const dir = await makePrivateDir(
    ctx.settings.tmpdir,
    ctx.scope,
    ctx.settings.layout.datadir,
  );
  const runner = await prepareTunnel(ctx, dir, joiner, { tls, peerName, secret });
  return { runner, dir, peerName };
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
): Promise<RunnerContext> {
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
  log.info(`tunnel: rsync --rsh runs ${ctx.tools.socat} ${socatArgs.join(" ")}`);
  return {
    adapter: ctx.adapter,
    rsync: ctx.tools.rsync,
    rsh: rshSetup({ socat: ctx.tools.socat, args: socatArgs, logDir: statusDir }),
    passwordFile: await dir.write("rsync.password", t.secret + "\n"),
    idleTimeoutSec: s.timeouts.idle,
    statusDir,
    peer,
    onSpawn: (c) => ctx.lock.recordGroup(c.pid),
    check: () => ctx.stopper.check(),
    signal: ctx.stopper.signal,
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

/**
 * Asks mariadbd to flush and lock (`flush tables`), then waits for `<datadir>/tables_flushed`
 * holding the state, or `<datadir>/sst_error`.
 */
async function flushTables(ctx: SstContext): Promise<string> {
  const dd = ctx.settings.layout.datadir;
  const flushed = `${dd}/tables_flushed`;
  const failed = `${dd}/sst_error`;
  await Deno.remove(flushed).catch(() => {});
  await Deno.remove(failed).catch(() => {});
  ctx.protocol.write("flush tables");
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
    every: 100,
    limit: limit * 1000 + 1,
    signal: ctx.stopper.signal,
    onTimeout: () => {
      throw new TimeoutError(
        `mariadbd did not flush tables within [sst] tunnel-flush-timeout=${limit} s`,
      );
    },
  });
}

/**
 * Copies the data set with the server's writes stopped for as short a time as it can: planned
 * and checked before `flush tables`; with a pre-copy, the whole plan first runs while the
 * server still takes writes (a fuzzy copy the joiner never accepts on its own: no completion
 * record yet), then under the lock the same plan again as a delta pass that compares the content
 * of every file the pre-copy cannot vouch for (precopy_record.ts) and sends what differs;
 * without, one locked pass of whole files. `continue` (mariadbd releases the lock) follows the
 * locked pass at once. Returns the locked state.
 */
async function copyWithLock(
  ctx: SstContext,
  runner: RunnerContext,
  dir: PrivateDir,
): Promise<string> {
  const wire = await checkWire(ctx, ctx.settings.wire);
  await checkOwnTablespace(systemTablespaceOf(ctx.settings.layout));
  const walk = new TreeWalk();
  const early = await planCopy(ctx, walk, false);
  const precopy = wantsPrecopy(ctx.settings.precopy, early.total);
  const joiner = joinerCopy(parseEndpoint(ctx.args.address));
  await checkJoinerSpace(ctx, { runner, dir, walk }, early.jobs.map((j) => j.job), joiner);
  const delta = chooseDelta(ctx.settings.delta, ctx.programName, joiner);
  log.info(
    `delta transfer ${delta.on ? "on" : "off"} (${delta.why}): ` +
      (delta.on
        ? "every pass sends only the blocks that differ from the joiner's files"
        : precopy
        ? "the pre-copy sends whole files, the locked pass after it only differing blocks"
        : "whole files"),
  );
  let record: PrecopyRecord | null = null;
  if (precopy) {
    record = await PrecopyRecord.take(walk, early.jobs.map((j) => j.job));
    const hot = {
      ...runner,
      hot: true,
      delta: delta.on,
      onJobEnd: (j: RsyncJob) => record?.ended(j),
    };
    await runPass(ctx, hot, early, wire, "hot pre-copy (the server takes writes)");
  } else if (ctx.settings.precopy === "auto") {
    log.info(
      `[sst] precopy=auto: ${formatBytes(early.total)} to copy, below ` +
        `${formatBytes(PRECOPY_AUTO_BYTES)}: one locked pass`,
    );
  }
  const state = await flushTables(ctx);
  const lockedAt = Date.now();
  // Listed again under the lock (a schema created meanwhile is in it).
  let plan = await planCopy(ctx, walk, true);
  if (record) plan = await skipUnchanged(plan, record, walk, dir);
  const locked = record !== null || delta.on;
  const name = locked ? "locked delta pass" : "locked pass";
  await runPass(ctx, { ...runner, delta: locked }, plan, wire, name);
  ctx.protocol.write("continue");
  log.info(`donor writes blocked for ${((Date.now() - lockedAt) / 1000).toFixed(1)} s`);
  return state;
}

/**
 * `plan` without the files that `record` vouches did not change since the pre-copy sent them:
 * each job that leaves files out gets an `--exclude-from` list in the private directory
 * ({@link excludingFrom}).
 */
async function skipUnchanged(
  plan: CopyPlan,
  record: PrecopyRecord,
  walk: TreeWalk,
  dir: PrivateDir,
): Promise<CopyPlan> {
  const mapped = await writableMappings();
  const jobs: SizedJob[] = [];
  const skipped = { files: 0, bytes: 0 };
  let compared = 0;
  for (const { job } of plan.jobs) {
    const files = await walk.files(job.selection, job.sources);
    const unchanged = files.filter((f) => record.vouchesFor(f, mapped));
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
      `since the pre-copy: not read again; ${compared} file(s) to compare`,
  );
  return { jobs, total: jobs.reduce((n, s) => n + s.bytes, 0) };
}

/** The jobs of one pass and the bytes they send. */
interface CopyPlan {
  jobs: SizedJob[];
  total: number;
}

/**
 * The transfer plan: the engine file sets, the schema directories in streams, and (under the
 * lock only: they are appended to until then) the binary logs. Fails on a link that cannot be
 * copied and on tables it cannot copy whole ({@link checkRemoteTables}).
 */
async function planCopy(ctx: SstContext, walk: TreeWalk, locked: boolean): Promise<CopyPlan> {
  const layout = ctx.settings.layout;
  const streams = ctx.settings.backupThreads;
  const engine = await sized(engineFileJobs(layout), walk);
  const bulk = engine.filter((j) => j.bytes > SHORT_JOB_BYTES).map((j) => j.bytes);
  const dirs = await listSchemaDirs(layout, walk);
  const schemas = await sized([
    ...schemaJobs(layout, dirs, streams, streamLoads(bulk, streams)),
    otherDirsJob(layout, dirs, await undecodableDirs(layout)),
  ], walk);
  const logs = locked
    ? await sized([binlogJob(await selectBinlogs(layout, ctx.settings.maxBinlogs))], walk)
    : [];
  checkLinks(walk);
  await checkRemoteTables(layout.datadir, dirs.map((d) => d.name), locked);
  const jobs = [...engine, ...schemas, ...logs];
  return { jobs, total: jobs.reduce((n, s) => n + s.bytes, 0) };
}

/**
 * Runs one pass of `plan` in parallel streams (one rsync at a time under a bandwidth cap),
 * reporting progress, and logs what it took.
 */
async function runPass(
  ctx: SstContext,
  runner: RunnerContext,
  plan: CopyPlan,
  wire: WireSettings,
  name: string,
): Promise<void> {
  const layout = ctx.settings.layout;
  const streams = ctx.settings.backupThreads;
  const started = Date.now();
  const wireOptions = rsyncWireOptions(wire);
  const onWire = (job: RsyncJob): RsyncJob => ({
    ...job,
    options: [...wireOptions, ...job.options],
  });
  const jobs = plan.jobs.map((s) => ({ ...s, job: onWire(s.job) }));
  if (wireOptions.length > 0) {
    log.info(`on the wire: ${describeWire(wire)} (${wireOptions.join(" ")})`);
  }
  // The protocol's progress lines describe the pass that ends the SST.
  const last = name.startsWith("locked");
  const meter = new TransferProgress(plan.total, {
    info: log.info,
    protocol: ctx.args.progress && last ? (l) => ctx.protocol.write(l) : undefined,
  });
  const lead = onWire(structureJob(layout));
  const lanes: Lanes = isCapped(wire)
    ? { kind: "serial", lead }
    : { kind: "parallel", streams, short: { lead, shortBytes: SHORT_JOB_BYTES } };
  log.info(
    `${name}: ${jobs.length} parts` +
      (lanes.kind === "serial"
        ? `, one rsync at a time: [sst] bwlimit caps the whole transfer and rsync cannot ` +
          `change a running stream's rate (backup-threads=${streams} not used)`
        : ` in up to ${streams} parallel streams`),
  );
  let sent = 0;
  const settled: RsyncLine[] = [];
  await runPool(jobs, lanes, {
    ...runner,
    commandLog: { logged: false },
    onSent: (n) => sent += n,
    onSettled: (lines) => settled.push(...lines),
    onSpawn: (c) => {
      meter.track(c.pid);
      runner.onSpawn?.(c);
    },
    check: () => {
      runner.check?.();
      meter.tick();
    },
  });
  meter.finish();
  if (settled.length > 0) logSettled(name, settled);
  const verb = runner.delta ? "compared" : "copied";
  log.info(
    `${name}: ${verb} ${formatBytes(plan.total)}, sent ${formatBytes(sent)} (${sent} bytes) in ${
      ((Date.now() - started) / 1000).toFixed(1)
    } s`,
  );
}

/**
 * One line for the files a hot pass could not send whole because they shrank or vanished
 * while it ran: how many, and the first rsync line as a sample (the rest at debug level).
 */
function logSettled(name: string, lines: readonly RsyncLine[]): void {
  const shrunk = lines.filter((l) => l.kind === "shrunk").length;
  log.info(
    `${name}: ${lines.length} rsync error(s) tolerated (${shrunk} file(s) shrank while read, ` +
      `${lines.length - shrunk} vanished; first: ${lines[0].text}): the locked pass ` +
      "compares these files again under the lock",
  );
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
