/**
 * Runs the donor's rsync jobs through the tunnel: common options, the `--rsh` socat client, the
 * per-SST password file, a bounded pool of parallel streams, and exit-status mapping into
 * actionable errors. What a job's outcome means for its pass (which failures are tolerated,
 * who counts its bytes) is pass.ts's to decide: a job runs with a {@link JobRun}.
 *
 * @module
 */
import { ExitCode, SstError, TimeoutError, TransferError } from "../core/errors.ts";
import * as log from "../core/log.ts";
import { type Child, type ProcessAdapter, stop } from "../proc/process.ts";
import { DELTA_BLOCK_SIZE, type RsyncJob } from "./passes.ts";
import { RSYNC_USER } from "./rsyncd_config.ts";
import { classifyConnectionFailure, connectionError } from "../tunnel/connection_failures.ts";
import { type RshSetup, SOCAT_LOG_RE } from "../tunnel/rsh_command.ts";
import { relayLine } from "../tunnel/socat_log.ts";
import { type RsyncLine, rsyncSays } from "./rsync_failures.ts";
import type { WireSettings } from "../config/wire_options.ts";
import { waitFor } from "../proc/wait.ts";

/** The SST's stop conditions, as the runner needs them (the SST's `Stopper` is one). */
export interface StopCheck {
  /** Aborts (its reason the error) once the SST must stop: the wait for rsync ends at once. */
  readonly signal: AbortSignal;
  /** Throws if the SST must stop now (a signal, the parent gone, the deadline). */
  check(): void;
}

/**
 * The donor's end of one SST's tunnel: how every rsync of every pass reaches the joiner. One
 * per SST (donor.ts `openTunnel`), never copied; what differs between passes is in the
 * {@link JobRun}.
 */
export interface Tunnel {
  adapter: ProcessAdapter;
  rsync: string;
  /** The `--rsh` socat client and the environment it reads. */
  rsh: RshSetup;
  passwordFile: string;
  idleTimeoutSec: number;
  /** Where each connection's socat leaves its log (`RshSetup`). */
  statusDir: string;
  /** The joiner, for messages. */
  peer: string;
  /** Compression and bandwidth cap of the data passes ([sst] compress, bwlimit). */
  wire: WireSettings;
  /** Parallel streams of a data pass ([sst] backup-threads). */
  streams: number;
  stop: StopCheck;
  /** Records every rsync's process group (the instance lock: a later run reaps leftovers). */
  recordGroup(pgid: number): void;
  /** The socat logs of this tunnel already relayed into the error log (each once). */
  readonly relayed: Set<string>;
}

/** How one rsync of a pass runs, and whom it tells (pass.ts makes one per pass). */
export interface JobRun {
  /**
   * Delta transfer: the joiner already holds a copy, so rsync compares every file block by
   * block and sends only the blocks that differ. Otherwise whole files.
   */
  delta: boolean;
  /** The lines of a failed rsync (exit `code`) that its pass tolerates, or null: a failure. */
  tolerated(code: number, lines: readonly string[]): RsyncLine[] | null;
  watch: JobWatch;
  /**
   * Told, while the rsync runs, of each file its sender has opened (the name as rsync prints
   * it, relative to the job's source), or absent: then rsync names no file.
   */
  opened?: (job: RsyncJob, name: string) => void;
}

/** What the pass learns from each of its rsyncs. */
export interface JobWatch {
  /** The command line of a job (the pass logs its first at INFO, the rest at DEBUG). */
  command(line: string): void;
  /** A job's rsync started. */
  started(child: Child): void;
  /** Every 200 ms while an rsync runs. */
  tick(): void;
  /** A job's rsync ended (before its failure, if its pass does not tolerate it, is thrown). */
  finished(job: RsyncJob, end: JobEnd): void;
}

/** How an rsync that its pass goes on after ended. */
export interface JobEnd {
  /** The bytes its `--info=stats1` summary says it sent, or null without a summary. */
  sent: number | null;
  /** Exit 0: every file it listed arrived whole. */
  clean: boolean;
  /** The lines of a tolerated failure (files that shrank or vanished), or null. */
  tolerated: RsyncLine[] | null;
}

/** Options every data pass uses (docs/sst-protocol.md §5), plus the tunnel. */
export function commonOptions(
  tunnel: Tunnel,
  delta: boolean,
  blockSize = DELTA_BLOCK_SIZE,
): string[] {
  return [
    "--owner",
    "--group",
    "--perms",
    // What links point to, never links: a schema directory linked to another disk arrives as a
    // directory. Not --keep-dirlinks: rsync 3.4+ daemons refuse to write through a link.
    "--copy-links",
    "--specials",
    // Every file is compared by content, never skipped for an equal size and time.
    "--ignore-times",
    "--inplace",
    ...(delta ? ["--no-whole-file", `--block-size=${blockSize}`] : ["--whole-file"]),
    // Nothing on stdout but the summary ("sent N bytes  received M bytes …"), which runJob
    // takes for the bytes sent (--quiet would silence it too), and, where a pass asks, a line
    // per file opened (OPENED_PREFIX), which runJob takes out first.
    "--info=NONE,STATS1",
    `--timeout=${tunnel.idleTimeoutSec}`,
    `--rsh=${tunnel.rsh.rsh}`,
    `--password-file=${tunnel.passwordFile}`,
  ];
}

/**
 * What starts each line `--out-format` prints: one per file (and directory) the sender opens,
 * after it opened it (rsync's sender.c logs an item after `open` and `fstat`, before or after
 * reading it), so the file may go from then on: rsync reads through its descriptor.
 */
export const OPENED_PREFIX = "wsrep-sst-opened ";

/** The full argv of one job; with `names`, rsync prints each file it opens ({@link OPENED_PREFIX}). */
export function rsyncArgs(job: RsyncJob, tunnel: Tunnel, delta: boolean, names = false): string[] {
  const dest = `${RSYNC_USER}@joiner::${job.module}/${job.path ?? ""}`;
  return [
    ...commonOptions(tunnel, delta, job.blockSize),
    ...(names ? [`--out-format=${OPENED_PREFIX}%n`] : []),
    ...job.options,
    "--",
    ...job.sources,
    dest,
  ];
}

/** Runs one job; throws an {@link SstError} explaining a failure its pass does not tolerate. */
export async function runJob(job: RsyncJob, tunnel: Tunnel, run: JobRun): Promise<void> {
  const args = rsyncArgs(job, tunnel, run.delta, run.opened !== undefined);
  run.watch.command(`rsync (${job.label}): ${tunnel.rsync} ${args.map(shownArg).join(" ")}`);
  const started = Date.now();
  const child = tunnel.adapter.spawn({
    cmd: tunnel.rsync,
    args,
    // Untranslated messages: rsync_failures.ts reads them.
    env: { ...tunnel.rsh.env, LC_ALL: "C" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    group: true,
    dieWithParent: true,
  });
  tunnel.recordGroup(child.pid);
  run.watch.started(child);
  const opened = run.opened;
  const onOpened = opened ? (name: string) => opened(job, name) : null;
  const output = Promise.all([stdoutText(child.stdout, onOpened), text(child.stderr)]);
  output.catch(() => {}); // awaited below once rsync ended; a stop before that drops it
  let ended = false;
  const exit = child.status.finally(() => ended = true);
  try {
    await waitFor(() => ended || (tunnel.stop.check(), run.watch.tick()), {
      every: 200,
      limit: Infinity, // rsync's own --timeout and the SST's deadline bound it
      signal: tunnel.stop.signal,
      wake: exit,
    });
  } catch (e) {
    await stop(child, 2000);
    throw e;
  }
  const [out, err] = await output;
  const status = await child.status;
  const stats = takeStats(out);
  const all = (stats.rest + err).split("\n").filter((l) => l.trim());
  // Our own lines (WSREP_SST: …) are relayed as they are; the rest is rsync's.
  const lines = all.filter((l) => !l.startsWith("WSREP_SST: "));
  const settled = status.code !== 0 ? run.tolerated(status.code, lines) : null;
  for (const l of all) {
    if (l.startsWith("WSREP_SST: ")) log.passThrough(l);
    else if (settled) log.debug(`rsync: ${l}`);
    else log.warn(`rsync: ${l}`);
  }
  if (status.code === 0 || settled) {
    run.watch.finished(job, { sent: stats.sent, clean: status.code === 0, tolerated: settled });
    const note = settled
      ? ` (${settled.length} file(s) shrank or vanished meanwhile: the locked pass settles them)`
      : "";
    log.debug(`${job.label}: done in ${((Date.now() - started) / 1000).toFixed(1)} s${note}`);
    return;
  }
  run.watch.finished(job, { sent: stats.sent, clean: false, tolerated: null });
  tunnel.stop.check();
  throw await explainFailure(job, tunnel, status.code, status.signal, err);
}

/**
 * An argument as the log shows it: the `--rsh` script is constant text of ours that only
 * starts socat (rsh_command.ts); the donor logs that socat command once per SST instead.
 */
function shownArg(arg: string): string {
  return arg.startsWith("--rsh=") ? "--rsh=<the tunnel's socat client, logged above>" : arg;
}

/** rsync's `--info=stats1` summary lines; digits may be grouped (`1,234,567`). */
const STATS_SENT_RE = /^sent ([\d,.']+) bytes\s+received [\d,.']+ bytes.*$/m;
const STATS_TOTAL_RE = /^total size is [\d,.']+\s+speedup is .*$/m;

/** The bytes rsync's summary in `out` says were sent (null: no summary), and the other lines. */
export function takeStats(out: string): { sent: number | null; rest: string } {
  const m = out.match(STATS_SENT_RE);
  const sent = m ? Number(m[1].replace(/\D/g, "")) : null;
  return { sent, rest: out.replace(STATS_SENT_RE, "").replace(STATS_TOTAL_RE, "") };
}

async function text(s: ReadableStream<Uint8Array> | null): Promise<string> {
  return s ? await new Response(s).text() : "";
}

/**
 * rsync's stdout without the {@link OPENED_PREFIX} lines, each of which `onOpened` hears as it
 * arrives (null: the whole text, read at the end).
 */
export async function stdoutText(
  s: ReadableStream<Uint8Array> | null,
  onOpened: ((name: string) => void) | null,
): Promise<string> {
  if (!s || !onOpened) return await text(s);
  const rest: string[] = [];
  let partial = "";
  // rsync's output is read to its end whatever a listener does (a full pipe would stall it);
  // the first error a listener threw is thrown then.
  const failures: unknown[] = [];
  const take = (line: string) => {
    if (!line.startsWith(OPENED_PREFIX)) return void rest.push(line);
    try {
      onOpened(line.slice(OPENED_PREFIX.length));
    } catch (error) {
      failures.push(error);
    }
  };
  for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    lines.forEach(take);
  }
  if (partial) take(partial);
  if (failures.length > 0) throw failures[0];
  return rest.join("\n");
}

/** What the connections' socat clients logged and nobody relayed yet, relayed now. */
async function socatLogs(tunnel: Tunnel): Promise<string> {
  let texts = "";
  try {
    for await (const e of Deno.readDir(tunnel.statusDir)) {
      const path = `${tunnel.statusDir}/${e.name}`;
      if (!SOCAT_LOG_RE.test(e.name) || tunnel.relayed.has(path)) continue;
      tunnel.relayed.add(path);
      const text = await Deno.readTextFile(path);
      for (const l of text.split("\n").filter((l) => l.trim())) {
        relayLine(l, `joiner ${tunnel.peer}`);
      }
      texts += text;
    }
  } catch { /* no status dir */ }
  return texts;
}

/**
 * The network or TLS failure the connections' socat logs show, as an error (judged as the
 * donor's probe and `check --peer` judge it), or null.
 */
async function tlsProblem(tunnel: Tunnel, what: string): Promise<SstError | null> {
  const texts = await socatLogs(tunnel);
  if (!texts) return null;
  const peer = `joiner ${tunnel.peer}`;
  const f = classifyConnectionFailure(texts);
  if (!f) {
    const first = texts.split("\n").find((l) => l.trim())?.replace(/^.* E /, "") ?? "";
    if (/timed out|timeout/i.test(first)) {
      return new TimeoutError(
        `${what}: connecting to ${tunnel.peer} timed out (${first}); check routing and firewalls, [sst] tunnel-connect-timeout`,
      );
    }
    return new TransferError(`${what}: ${peer}: ${first}`);
  }
  const e = connectionError(texts, tunnel.peer);
  return f.layer === "network"
    ? new TransferError(`${what}: ${e.message}`, e.exitCode)
    : new SstError(e.exitCode, `${what}: ${e.message}`);
}

/** The error for rsync of `job` ending with `code`/`signal` and `stderr` (exported for a pull). */
export async function explainFailure(
  job: RsyncJob,
  tunnel: Tunnel,
  code: number,
  signal: string | null,
  stderr: string,
): Promise<SstError> {
  const what = `rsync of ${job.label} to ${tunnel.peer} failed (rsync exit ${signal ?? code})`;
  if (code === 30) {
    return new TimeoutError(
      `${what}: no data moved for ${tunnel.idleTimeoutSec} s ([sst] tunnel-idle-timeout=${tunnel.idleTimeoutSec})`,
    );
  }
  const tls = await tlsProblem(tunnel, what);
  if (tls && !(tls instanceof TransferError && code === 11)) return tls;
  if (code === 11) {
    return new TransferError(
      `${what}: the joiner could not write the data (disk full or permissions); its error log ` +
        "says which file",
      rsyncSays(stderr, "joiner-no-space") ? ExitCode.noSpace : ExitCode.transfer,
    );
  }
  if (rsyncSays(stderr, "joiner-no-space")) {
    return new TransferError(
      `${what}: the joiner ran out of disk space; free space in its datadir`,
      ExitCode.noSpace,
    );
  }
  switch (code) {
    case 5:
      return new SstError(
        ExitCode.protocol,
        `${what}: the joiner refused the transfer (wrong per-SST secret or module); ` +
          "both nodes must run the same wsrep_sst_rsync_tunnel and the joiner must still be waiting",
      );
    case 12:
      return new TransferError(
        `${what}: the connection to the joiner broke (see socat/rsync lines above)`,
      );
    default:
      return new TransferError(`${what}; see the rsync lines above`);
  }
}

/**
 * Jobs up to this size go to the short lane of {@link runPool}: over the tunnel a connection
 * costs ~0.15–0.3 s of set-up (rsync, socat, TLS handshake, the joiner's daemon), about what
 * one stream copies of 32 MiB.
 */
export const SHORT_JOB_BYTES = 32 * 1024 * 1024;

/** A job and the bytes it will send. */
export interface SizedJob {
  job: RsyncJob;
  bytes: number;
}

/** The extra lane of {@link runPool}. */
export interface ShortLane {
  /** A job this lane runs first (the donor's directory pass). */
  lead?: RsyncJob;
  /** The largest job the lane takes from the small end of the queue. */
  shortBytes: number;
}

/**
 * How the rsyncs of one pass run: `streams` parallel streams with the short lane beside them,
 * or one at a time (`serial`, `lead` first): a bandwidth cap is a total, and rsync cannot
 * change a running stream's `--bwlimit`, so with a cap the one rsync running gets all of it.
 */
export type Lanes =
  | { kind: "parallel"; streams: number; short: ShortLane }
  | { kind: "serial"; lead?: RsyncJob };

/**
 * The jobs of one pool run, largest first: the streams take from the large end, the short lane
 * from the small end. Its state belongs to one run, so a plan can run twice (a hot pass, then
 * a locked pass).
 */
export class JobQueue {
  readonly #jobs: SizedJob[];
  #head = 0;
  #tail: number;

  constructor(jobs: readonly SizedJob[]) {
    this.#jobs = [...jobs].sort((a, b) => b.bytes - a.bytes);
    this.#tail = this.#jobs.length - 1;
  }

  /** Jobs not taken yet. */
  get size(): number {
    return this.#tail - this.#head + 1;
  }

  /** The largest job left, or null. */
  takeLargest(): RsyncJob | null {
    return this.#head <= this.#tail ? this.#jobs[this.#head++].job : null;
  }

  /** The smallest job left if it is at most `maxBytes`, or null. */
  takeSmall(maxBytes: number): RsyncJob | null {
    if (this.#head > this.#tail || this.#jobs[this.#tail].bytes > maxBytes) return null;
    return this.#jobs[this.#tail--].job;
  }
}

/**
 * Runs `jobs` as `lanes` say. Parallel: `streams` streams take the largest jobs first, and one
 * extra lane runs `short.lead` and then takes the smallest jobs (up to `short.shortBytes`
 * each) from the other end of the queue: a short connection is mostly set-up time, which then
 * overlaps the bulk copy instead of trailing it. Serial: the lead, then every job, one rsync
 * at a time. On the first failure `pool.stopOthers` stops every other running job and that
 * failure is thrown.
 */
export async function runPool(
  jobs: readonly SizedJob[],
  lanes: Lanes,
  pool: { run: (job: RsyncJob) => Promise<void>; stopOthers: () => Promise<void> },
): Promise<void> {
  const queue = new JobQueue(jobs);
  let failure: unknown = null;
  const attempt = async (job: RsyncJob) => {
    try {
      await pool.run(job);
    } catch (e) {
      if (failure === null) failure = e;
      await pool.stopOthers();
    }
  };
  const stream = async () => {
    for (let job; failure === null && (job = queue.takeLargest());) await attempt(job);
  };
  const shortLane = async (lane: ShortLane) => {
    if (lane.lead) await attempt(lane.lead);
    for (let job; failure === null && (job = queue.takeSmall(lane.shortBytes));) {
      await attempt(job);
    }
  };
  switch (lanes.kind) {
    case "parallel": {
      const n = Math.max(1, Math.min(lanes.streams, queue.size));
      await Promise.all([...Array.from({ length: n }, stream), shortLane(lanes.short)]);
      break;
    }
    case "serial":
      if (lanes.lead) await attempt(lanes.lead);
      await stream();
      break;
  }
  if (failure !== null) throw failure;
}
