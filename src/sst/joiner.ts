/**
 * The joiner, top to bottom as in docs/sst-protocol.md §4. Up to its `ready` line it writes no
 * protocol line: that is the setup, `startJoiner` (joiner_start.ts), whose values `runJoiner`
 * takes; `runJoiner` prints `ready` and does the rest:
 *
 * 1. check the TLS material and decide where to listen;
 * 2. prepare the private directory, the rsync daemon configuration and the per-SST secret;
 * 3. start socat's TLS listener (one rsync daemon per verified connection, no plaintext port);
 * 4. remove the snapshot directories of a killed donor on this node (transfer/snapshot_dir.ts),
 *    publish what this node holds and its free space (joiner_holdings.ts: the donor's delta and
 *    space decisions), then print `ready <secret>@<host>:<port>/rsync_tunnel_sst/1[/…]` (our
 *    server's version, when known: the donor refuses a pair that cannot work);
 * 5. wait for the donor's completion record (or its refusal), bounded and watching mariadbd;
 *    with `--progress 1`, print `complete <bytes received>` (the observer made in `runJoiner`);
 * 6. check the secret, stop the listener, install binary logs (full SST only);
 * 7. print the final `<uuid>:<seqno> <domain>` line.
 *
 * `runJoiner` writes each of these lines itself, in this order (`runJoinerWithTotals` runs the
 * setup, then `runJoiner`, and adds the totals line however it ends); which failure it reports when
 * the wait ends early is stop_cause.ts's decision.
 *
 * @module
 */
import type { ProtocolRun, SstContext, Stopper } from "./context.ts";
import type { ServerLayout, Settings } from "../config/settings.ts";
import { formatReadyAddress } from "../core/address.ts";
import { ExitCode, SstError, TimeoutError, TransferError } from "../core/errors.ts";
import * as log from "../core/log.ts";
import { stop } from "../proc/process.ts";
import { Stopwatch, waitFor } from "../proc/wait.ts";
import type { TunnelListener } from "../tunnel/listener.ts";
import {
  type CompletionRecord,
  type DonorRecord,
  parseDonorRecord,
  type RefusalRecord,
  secretsEqual,
} from "../transfer/completion.ts";
import {
  compatibility,
  describePair,
  parseRecordVersion,
  type ServerVersion,
} from "../core/server_version.ts";
import { installBinlogs, removeOldBinlogs } from "../transfer/binlogs.ts";
import { binlogDir, systemTablespaceOf } from "../transfer/layout_files.ts";
import { onPath } from "../core/fs_errors.ts";
import { PROGRESS_INTERVAL_MS, ReceiveProgress } from "../transfer/progress.ts";
import { parsePhaseNotice } from "../transfer/phase_notice.ts";
import { ReceivedBytes } from "../transfer/received_bytes.ts";
import { joinerTotalsLine } from "../transfer/sst_totals.ts";
import { removeStaleServerState, warnStrayEngineFiles } from "./datadir.ts";
import {
  checkReceivedTablespace,
  MANIFEST_FILE,
  parseManifest,
} from "../transfer/tablespace_manifest.ts";
import { DaemonLogFollower } from "../transfer/daemon_log.ts";
import { sessionFailure } from "./session_failure.ts";
import { type JoinerWitnesses, stopCause } from "./stop_cause.ts";
import { clearIncompleteMark } from "./incomplete_mark.ts";
import { type JoinerStart, startJoiner } from "./joiner_start.ts";

/** How much longer than `tunnel-idle-timeout` the joiner waits for data (see receiveCompletion). */
const IDLE_GRACE_MS = 2000;

/**
 * Runs the joiner side of an SST: its setup (steps 1 to 4, joiner_start.ts), then its protocol;
 * its last INFO line has the totals, also on a failure.
 */
export async function runJoinerWithTotals(ctx: SstContext): Promise<void> {
  const watch: TransferWatch = {
    clock: new Stopwatch(),
    received: null,
    progress: new ReceiveProgress({ info: log.info }),
  };
  try {
    await runJoiner(ctx, await startJoiner(ctx), watch);
  } catch (e) {
    log.info(await joinerTotals(watch, e));
    throw e;
  }
  log.info(await joinerTotals(watch, null));
}

/**
 * The joiner from its `ready` line, as the module documentation numbers it, once
 * `startJoiner` has done 1 to 4: every protocol line it writes, in order; `watch` follows the
 * transfer.
 */
export async function runJoiner(
  ctx: ProtocolRun,
  start: JoinerStart,
  watch: TransferWatch,
): Promise<void> {
  const { endpoint, secret, server, ws, listener, settings } = start;
  // 4. Ready.
  ctx.protocol.write(
    `ready ${secret}@${formatReadyAddress(endpoint.host, endpoint.port, server, start.copy)}`,
  );
  // 5. The donor's record; with --progress, `complete <bytes>` lines written by this observer.
  const progress = ctx.args.progress ? (line: string) => ctx.protocol.write(line) : null;
  const daemon = new DaemonLogFollower(ws.rsyncdLog);
  const refused = (r: RefusalRecord) => refusalError(r, secret, server);
  watch.received = new ReceivedBytes(ws.rsyncdLog, () => listener.receiverBytesBySession());
  const follow = () => followTransfer(watch, ws.noticeFile);
  const receiving: Receiving = { settings, stopper: ctx.stopper };
  const record = await receiveCompletion(receiving, listener, ws.completionFile, daemon, {
    refused,
    progress,
    follow,
  }).catch(async (e) => {
    throw await stopCause(e, {
      stopped: () => ctx.stopper.pending(),
      joiner: witnesses(settings.layout, daemon, ws.completionFile, refused),
    });
  });
  watch.progress.finish(await watch.received.count(false));
  // 6. Check, stop the listener, install.
  if (!secretsEqual(record.secret, secret)) {
    throw new TransferError(
      "the completion record does not carry this SST's secret: it was not sent by the donor " +
        "that received our request; refusing the transferred data",
    );
  }
  if (record.server !== undefined) logServerPair(parseRecordVersion(record.server), server);
  await drainConnections(ctx.stopper.signal, listener);
  await stop(listener.child);
  if (!record.bypass) await checkTablespace(settings.layout, ws.completionFile);
  await finishBinlogs(settings.layout, record, ws.binlogStaging);
  if (!record.bypass) {
    await removeStaleServerState(settings.layout);
    await warnStrayEngineFiles(settings.layout);
  }
  await clearIncompleteMark(settings.layout.datadir);
  log.info(`SST complete on joiner: state ${record.state}${record.bypass ? " (IST follows)" : ""}`);
  // 7. The state.
  ctx.protocol.final(record.state);
}

/**
 * What may explain a stop better (stop_cause.ts): the daemon's log (it may be gone by now) and
 * a refusal record that arrived meanwhile (a broken record explains nothing).
 */
function witnesses(
  layout: ServerLayout,
  daemon: DaemonLogFollower,
  file: string,
  refused: (r: RefusalRecord) => SstError,
): JoinerWitnesses {
  return {
    session: async () => sessionFailure(await daemon.all(), daemon, layout),
    refusal: async () => {
      const text = await Deno.readTextFile(file).catch(() => null);
      let late: DonorRecord | null = null;
      try {
        late = text === null ? null : parseDonorRecord(text, file);
      } catch { /* a broken record does not explain the stop */ }
      return late?.kind === "refused" ? refused(late.refusal) : null;
    },
  };
}

/**
 * The donor refused this SST before copying anything (the servers' versions cannot work
 * together): its reason, if the record carries this SST's secret.
 */
function refusalError(
  refusal: RefusalRecord,
  secret: string,
  ours: ServerVersion | null,
): SstError {
  if (!secretsEqual(refusal.secret, secret)) {
    return new TransferError(
      "a refusal record arrived without this SST's secret: it was not sent by the donor that " +
        "received our request; ignoring its reason",
    );
  }
  const code = refusal.code ?? ExitCode.unsupportedPair;
  if (code === ExitCode.unsupportedPair) {
    log.info(
      describePair(parseRecordVersion(refusal.server), ours, { kind: "refuse", message: "" }),
    );
  }
  return new SstError(code, `the donor refused this SST: ${refusal.reason}`);
}

/** One INFO line with both versions (and the donor's WARNING again, in our log). */
function logServerPair(donor: ServerVersion | null, ours: ServerVersion | null): void {
  const verdict = compatibility(donor, ours);
  log.info(describePair(donor, ours, verdict));
  if (verdict.kind === "warn") log.warn(verdict.message);
}

/** What the wait for the donor reads: this node's settings (timeouts, layout) and the stop. */
interface Receiving {
  settings: Settings;
  stopper: Stopper;
}

/** How long a failing joiner lets the donor's connections end on their own. */
const FAILURE_DRAIN_MS = 3_000;

/**
 * Waits until the completion record arrives, the listener dies, mariadbd goes away, the donor
 * never connects (`tunnel-initial-timeout`) or stops talking (`tunnel-idle-timeout`), a
 * session that proved the secret reports a failure (see session_failure.ts), or the donor's
 * refusal arrives (`on.refused` makes its error). With `on.progress`, writes
 * `complete <bytes received>` at most every 10 s and at the end.
 */
async function receiveCompletion(
  ctx: Receiving,
  listener: TunnelListener,
  file: string,
  daemon: DaemonLogFollower,
  on: {
    refused: (r: RefusalRecord) => SstError;
    progress: ((line: string) => void) | null;
    /** Follows the transfer (the joiner's progress lines); returns the bytes received so far. */
    follow: () => Promise<number>;
  },
): Promise<CompletionRecord> {
  const t = ctx.settings.timeouts;
  const started = new Stopwatch();
  let lastActive: Stopwatch | null = null;
  let lastBytes = -1;
  // With --progress 1: `complete <bytes received>` at most every 10 s and at the end. The
  // joiner does not know the donor's total, so it prints no `total` line (the donor does).
  const lastProgress = new Stopwatch();
  let reported = -1;
  const progress = async (force: boolean) => {
    const bytes = await on.follow();
    if (!on.progress || (!force && !lastProgress.reached(PROGRESS_INTERVAL_MS))) return;
    lastProgress.restart();
    if (bytes > reported) on.progress(`complete ${bytes}`);
    reported = Math.max(reported, bytes);
  };
  // No limit of its own: each tick throws on tunnel-initial-timeout or tunnel-idle-timeout.
  return await waitFor(async () => {
    const text = await Deno.readTextFile(file).catch(() => null);
    if (text !== null) {
      await progress(true);
      return await accepted(ctx, listener, parseDonorRecord(text, file), daemon, on.refused);
    }
    await progress(false);
    if (listener.child.exited) {
      // A stop (a signal, mariadbd gone) kills our children first: that is the cause then.
      throw ctx.stopper.pending() ??
        new TransferError("the TLS listener (socat) exited before the transfer completed");
    }
    const failure = sessionFailure(await daemon.poll(), daemon, ctx.settings.layout);
    if (failure) {
      // Let the donor's connections end on their own first (bounded): the session that failed
      // still carries our daemon's error to the donor, which names the cause in its own log.
      // mariadbd may abort us meanwhile (the donor fails too): this failure stays the cause.
      await drainConnections(ctx.stopper.signal, listener, FAILURE_DRAIN_MS).catch(() => {});
      throw failure;
    }
    // The donor's certificate probe connects before mariadbd has flushed its tables; only
    // sessions that proved the secret count as the transfer having started. Then activity
    // means bytes moving through the connections, not connections merely open.
    if (daemon.transferStarted) {
      const bytes = listener.bytesReceived();
      if (lastActive === null) lastActive = new Stopwatch();
      else if (bytes !== lastBytes) lastActive.restart();
      lastBytes = bytes;
    }
    if (lastActive === null && started.reached(t.initial * 1000 + 1)) {
      throw new TimeoutError(
        `the donor did not start sending within [sst] tunnel-initial-timeout=${t.initial} s`,
      );
    }
    // A little grace over the donor's rsync timeout (the same key), so that the side that
    // stalls is reported by the other one first, naming the key. Between a pre-copy and the
    // locked pass no connection is open while the donor waits for mariadbd's lock, which
    // `tunnel-flush-timeout` bounds: then the initial timeout (above it) applies.
    const between = listener.openConnections() === 0;
    const limit = between ? Math.max(t.idle, t.initial) : t.idle;
    if (lastActive !== null && lastActive.reached(limit * 1000 + IDLE_GRACE_MS + 1)) {
      throw new TimeoutError(
        between
          ? `the donor opened no connection for [sst] tunnel-initial-timeout=${limit} s ` +
            "after its last transfer"
          : `no data arrived from the donor for [sst] tunnel-idle-timeout=${t.idle} s`,
      );
    }
    return undefined;
  }, { every: 200, limit: Infinity, signal: ctx.stopper.signal });
}

/** How the joiner follows the transfer for its progress and totals lines. */
interface TransferWatch {
  /** Since the run started. */
  clock: Stopwatch;
  /** The bytes received so far; null until the listener runs. */
  received: ReceivedBytes | null;
  progress: ReceiveProgress;
}

/**
 * One look at the transfer: the bytes received, the donor's phase notice (a new pass is
 * logged), a progress line when the interval has passed. Returns the bytes received.
 */
async function followTransfer(watch: TransferWatch, noticeFile: string): Promise<number> {
  const text = await Deno.readTextFile(noticeFile).catch(() => null);
  const notice = text === null ? null : parsePhaseNotice(text);
  const received = await watch.received?.count(notice?.delta !== true) ?? 0;
  watch.progress.announce(notice, received);
  watch.progress.tick(received);
  return received;
}

/** The joiner's totals line, for a run that ended with `error` (null: complete). */
async function joinerTotals(watch: TransferWatch, error: unknown | null): Promise<string> {
  return joinerTotalsLine({
    error,
    seconds: watch.clock.elapsed() / 1000,
    received: await watch.received?.count(false).catch(() => 0) ?? 0,
    phases: watch.progress.phases,
  });
}

/**
 * The completion record that arrived, or the failure it brings: the donor's refusal (after
 * letting its rsync see its session end well, so that it logs the joiner as told; mariadbd may
 * abort us meanwhile: the refusal stays the cause), or a failure an earlier session logged
 * (it may arrive in the same poll as the record).
 */
async function accepted(
  ctx: Receiving,
  listener: TunnelListener,
  received: DonorRecord,
  daemon: DaemonLogFollower,
  refused: (r: RefusalRecord) => SstError,
): Promise<CompletionRecord> {
  if (received.kind === "refused") {
    const refusal = refused(received.refusal);
    await drainConnections(ctx.stopper.signal, listener, FAILURE_DRAIN_MS).catch(() => {});
    throw refusal;
  }
  const late = sessionFailure(await daemon.poll(), daemon, ctx.settings.layout);
  if (late) throw late;
  return received.record;
}

/**
 * Lets the open connections end on their own (bounded) before the listener goes away: after
 * the completion record, so the donor's rsync sees its session succeed; on a failure, so it
 * receives our daemon's error.
 */
async function drainConnections(
  signal: AbortSignal,
  listener: TunnelListener,
  limitMs = 10_000,
): Promise<void> {
  await waitFor(() => listener.openConnections() === 0, {
    every: 50,
    limit: limitMs,
    signal,
    onTimeout: () => {},
  });
}

/**
 * Accepts the data set only if the donor sent the system tablespace this node's configuration
 * names (see tablespace_manifest.ts); its record lies next to the completion record.
 */
async function checkTablespace(layout: ServerLayout, completionFile: string): Promise<void> {
  const file = `${completionFile.slice(0, completionFile.lastIndexOf("/"))}/${MANIFEST_FILE}`;
  const text = await Deno.readTextFile(file).catch(() => null);
  await checkReceivedTablespace(
    systemTablespaceOf(layout),
    text === null ? null : parseManifest(text, file),
  );
}

/** Replaces this node's binary logs by the donor's (a full SST with binary logging only). */
async function finishBinlogs(
  layout: ServerLayout,
  record: CompletionRecord,
  staging: string | null,
): Promise<void> {
  if (record.bypass || !layout.binlogBase || staging === null) return;
  const removed = await removeOldBinlogs(layout);
  const installed = await onPath(
    {
      path: binlogDir(layout)!,
      doing: "install the received binary logs",
      setting: "[mysqld] log_bin",
    },
    () => installBinlogs(layout, staging),
  );
  log.info(
    `binary logs: removed ${removed} old file(s), installed ${installed.length} from the donor`,
  );
}
