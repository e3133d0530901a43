/**
 * Runs the donor's rsync jobs through the tunnel: common options, the `--rsh` socat client, the
 * per-SST password file, a bounded pool of parallel streams, and exit-status mapping into
 * actionable errors.
 *
 * @module
 */
import { ExitCode, SstError, TimeoutError, TransferError } from "../core/errors.ts";
import * as log from "../core/log.ts";
import { type Child, type ProcessAdapter, stop } from "../proc/process.ts";
import { DELTA_BLOCK_SIZE, type RsyncJob } from "./passes.ts";
import { RSYNC_USER } from "./rsyncd_config.ts";
import { classifySocatTlsError, describeTlsFailure } from "../tunnel/tls_failures.ts";
import { type RshSetup, SOCAT_LOG_RE } from "../tunnel/rsh_command.ts";
import { relayLine } from "../tunnel/socat_log.ts";
import { waitFor } from "../proc/wait.ts";

/** Everything a job needs besides its own options. */
export interface RunnerContext {
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
  /** Called with every rsync started (to record its process group). */
  onSpawn?: (child: Child) => void;
  /** Called every 200 ms while rsync runs; throws to abort (signal, parent gone, deadline). */
  check?: () => void;
  /** Ends the wait for rsync at once (killing it, rejecting with the reason) when it aborts. */
  signal?: AbortSignal;
  /**
   * Delta transfer: the joiner already holds a copy (the hot pass's), so rsync compares every
   * file block by block and sends only the blocks that differ. Otherwise whole files.
   */
  delta?: boolean;
  /**
   * A copy made while the server takes writes: a file that vanished between the plan and its
   * read (a table dropped or rebuilt meanwhile; rsync exit 23 or 24) is expected, the locked
   * pass settles it.
   */
  hot?: boolean;
  /** Whether this run logged an rsync command line at INFO already (the first one is). */
  commandLog?: { logged: boolean };
  /** Called with every job whose rsync ended cleanly (exit 0: every file it sent is whole). */
  onJobEnd?: (job: RsyncJob) => void;
  /** Called with the bytes each rsync that ended says it sent (its `--info=stats1` summary). */
  onSent?: (bytes: number) => void;
}

/** For runs without their own {@link RunnerContext.commandLog}. */
const commandLogged = { logged: false };

/** What rsync says about a source that vanished between the plan and its read. */
const VANISHED_RE =
  /file has vanished|link_stat ".*" failed: No such file or directory|\(code 2[34]\)/;

/** Whether a failed hot-pass rsync only lost files that vanished meanwhile (exit 23 or 24). */
function onlyVanished(code: number, lines: readonly string[]): boolean {
  return (code === 23 || code === 24) && lines.every((l) => VANISHED_RE.test(l));
}

/** Options every data pass uses (spec §5), plus the tunnel. */
export function commonOptions(ctx: RunnerContext, blockSize = DELTA_BLOCK_SIZE): string[] {
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
    ...(ctx.delta ? ["--no-whole-file", `--block-size=${blockSize}`] : ["--whole-file"]),
    // Nothing on stdout but the summary ("sent N bytes  received M bytes …"), which runJob
    // takes for the bytes sent (--quiet would silence it too).
    "--info=NONE,STATS1",
    `--timeout=${ctx.idleTimeoutSec}`,
    `--rsh=${ctx.rsh.rsh}`,
    `--password-file=${ctx.passwordFile}`,
  ];
}

/** The full argv of one job. */
export function rsyncArgs(job: RsyncJob, ctx: RunnerContext): string[] {
  const dest = `${RSYNC_USER}@joiner::${job.module}/${job.path ?? ""}`;
  return [...commonOptions(ctx, job.blockSize), ...job.options, "--", ...job.sources, dest];
}

/** Runs one job; throws an {@link SstError} explaining a failure. */
export async function runJob(job: RsyncJob, ctx: RunnerContext): Promise<void> {
  const args = rsyncArgs(job, ctx);
  const line = `rsync (${job.label}): ${ctx.rsync} ${args.join(" ")}`;
  const logged = ctx.commandLog ?? commandLogged;
  if (logged.logged) log.debug(line);
  else log.info(line);
  logged.logged = true;
  const started = Date.now();
  const child = ctx.adapter.spawn({
    cmd: ctx.rsync,
    args,
    env: ctx.rsh.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    group: true,
    dieWithParent: true,
  });
  ctx.onSpawn?.(child);
  const output = Promise.all([text(child.stdout), text(child.stderr)]);
  let ended = false;
  const exit = child.status.finally(() => ended = true);
  try {
    await waitFor(() => ended || ctx.check?.(), {
      every: 200,
      limit: Infinity, // rsync's own --timeout and the SST's deadline bound it
      signal: ctx.signal,
      wake: exit,
    });
  } catch (e) {
    await stop(child, 2000);
    throw e;
  }
  const [out, err] = await output;
  const status = await child.status;
  const stats = takeStats(out);
  if (stats.sent !== null) ctx.onSent?.(stats.sent);
  const lines = (stats.rest + err).split("\n").filter((l) => l.trim());
  const vanished = ctx.hot === true && onlyVanished(status.code, lines);
  for (const l of lines) {
    if (l.startsWith("WSREP_SST: ")) log.passThrough(l);
    else if (vanished) log.debug(`rsync: ${l}`);
    else log.warn(`rsync: ${l}`);
  }
  if (status.code === 0) ctx.onJobEnd?.(job);
  if (status.code === 0 || vanished) {
    const note = vanished
      ? " (files dropped or renamed meanwhile: the locked pass settles them)"
      : "";
    log.debug(`${job.label}: done in ${((Date.now() - started) / 1000).toFixed(1)} s${note}`);
    return;
  }
  ctx.check?.();
  throw await explainFailure(job, ctx, status.code, status.signal, err);
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

/** socat logs already relayed into the error log (a pool reports each one once). */
const relayed = new Set<string>();

/** What the connections' socat clients logged and nobody relayed yet, relayed now. */
async function socatLogs(ctx: RunnerContext): Promise<string> {
  let texts = "";
  try {
    for await (const e of Deno.readDir(ctx.statusDir)) {
      const path = `${ctx.statusDir}/${e.name}`;
      if (!SOCAT_LOG_RE.test(e.name) || relayed.has(path)) continue;
      relayed.add(path);
      const text = await Deno.readTextFile(path);
      for (const l of text.split("\n").filter((l) => l.trim())) relayLine(l, `joiner ${ctx.peer}`);
      texts += text;
    }
  } catch { /* no status dir */ }
  return texts;
}

/** The TLS failure the connections' socat logs show, as an error, or null. */
async function tlsProblem(ctx: RunnerContext, what: string): Promise<SstError | null> {
  const texts = await socatLogs(ctx);
  if (!texts) return null;
  const failure = classifySocatTlsError(texts);
  const peer = `joiner ${ctx.peer}`;
  if (!failure) {
    const first = texts.split("\n").find((l) => l.trim())?.replace(/^.* E /, "") ?? "";
    if (/refused/i.test(first)) {
      return new TransferError(
        `${what}: nothing listens at ${ctx.peer} (${first}); is the joiner still waiting?`,
        ExitCode.refused,
      );
    }
    if (/timed out|timeout/i.test(first)) {
      return new TimeoutError(
        `${what}: connecting to ${ctx.peer} timed out (${first}); check routing and firewalls, [sst] tunnel-connect-timeout`,
      );
    }
    return new TransferError(`${what}: ${peer}: ${first}`);
  }
  const code = failure.kind === "not-tls" ? ExitCode.protocol : ExitCode.peerRejected;
  return new SstError(code, `${what}: ${describeTlsFailure(failure, peer)}`);
}

async function explainFailure(
  job: RsyncJob,
  ctx: RunnerContext,
  code: number,
  signal: string | null,
  stderr: string,
): Promise<SstError> {
  const what = `rsync of ${job.label} to ${ctx.peer} failed (rsync exit ${signal ?? code})`;
  if (code === 30) {
    return new TimeoutError(
      `${what}: no data moved for ${ctx.idleTimeoutSec} s ([sst] tunnel-idle-timeout=${ctx.idleTimeoutSec})`,
    );
  }
  const tls = await tlsProblem(ctx, what);
  if (tls && !(tls instanceof TransferError && code === 11)) return tls;
  if (code === 11) {
    return new TransferError(
      `${what}: the joiner could not write the data (disk full or permissions); its error log ` +
        "says which file",
      /No space left on device/i.test(stderr) ? ExitCode.noSpace : ExitCode.transfer,
    );
  }
  if (/No space left on device/i.test(stderr)) {
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
 * Runs `jobs` on `streams` parallel streams, largest first, plus one extra lane that runs
 * `lane.lead` and then takes the smallest jobs (up to `lane.shortBytes` each) from the other end
 * of the queue: a short connection is mostly set-up time, which then overlaps the bulk copy
 * instead of trailing it. On the first failure every other job is stopped and that failure is
 * thrown.
 */
export async function runPool(
  jobs: readonly SizedJob[],
  streams: number,
  ctx: RunnerContext,
  lane: ShortLane = { shortBytes: 0 },
  run: (job: RsyncJob, ctx: RunnerContext) => Promise<void> = runJob,
): Promise<void> {
  const running = new Set<Child>();
  const tracked: RunnerContext = {
    ...ctx,
    onSpawn: (c) => {
      running.add(c);
      c.status.then(() => running.delete(c));
      ctx.onSpawn?.(c);
    },
  };
  const queue = new JobQueue(jobs);
  let failure: unknown = null;
  const attempt = async (job: RsyncJob) => {
    try {
      await run(job, tracked);
    } catch (e) {
      if (failure === null) failure = e;
      await Promise.all([...running].map((c) => stop(c, 2000)));
    }
  };
  const stream = async () => {
    for (let job; failure === null && (job = queue.takeLargest());) await attempt(job);
  };
  const shortLane = async () => {
    if (lane.lead) await attempt(lane.lead);
    for (let job; failure === null && (job = queue.takeSmall(lane.shortBytes));) {
      await attempt(job);
    }
  };
  const lanes = Math.max(1, Math.min(streams, queue.size));
  await Promise.all([...Array.from({ length: lanes }, stream), shortLane()]);
  if (failure !== null) throw failure;
}
