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
import { classifyConnectionFailure, connectionError } from "../tunnel/connection_failures.ts";
import { type RshSetup, SOCAT_LOG_RE } from "../tunnel/rsh_command.ts";
import { relayLine } from "../tunnel/socat_log.ts";
import { type RsyncLine, rsyncSays, settledByLockedPass } from "./rsync_failures.ts";
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
   * A copy made while the server takes writes: a file that shrank while read or vanished
   * between the plan and its read (rsync exit 23 or 24, rsync_failures.ts) is expected, the
   * locked pass settles it; such an rsync still did not end cleanly ({@link onJobEnd}).
   */
  hot?: boolean;
  /** In a hot pass: called with the lines of each rsync whose failure the locked pass settles. */
  onSettled?: (lines: readonly RsyncLine[]) => void;
  /** Whether this run logged an rsync command line at INFO already (the first one is). */
  commandLog?: { logged: boolean };
  /** Called with every job whose rsync ended cleanly (exit 0: every file it sent is whole). */
  onJobEnd?: (job: RsyncJob) => void;
  /** Called with the bytes each rsync that ended says it sent (its `--info=stats1` summary). */
  onSent?: (bytes: number) => void;
}

/** For runs without their own {@link RunnerContext.commandLog}. */
const commandLogged = { logged: false };

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
    // Untranslated messages: rsync_failures.ts reads them.
    env: { ...ctx.rsh.env, LC_ALL: "C" },
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
  const all = (stats.rest + err).split("\n").filter((l) => l.trim());
  // Our own lines (WSREP_SST: …) are relayed as they are; the rest is rsync's.
  const lines = all.filter((l) => !l.startsWith("WSREP_SST: "));
  const settled = ctx.hot === true && status.code !== 0
    ? settledByLockedPass(status.code, lines)
    : null;
  for (const l of all) {
    if (l.startsWith("WSREP_SST: ")) log.passThrough(l);
    else if (settled) log.debug(`rsync: ${l}`);
    else log.warn(`rsync: ${l}`);
  }
  // Only a clean end vouches that every file the job listed arrived whole.
  if (status.code === 0) ctx.onJobEnd?.(job);
  if (settled) ctx.onSettled?.(settled);
  if (status.code === 0 || settled) {
    const note = settled
      ? ` (${settled.length} file(s) shrank or vanished meanwhile: the locked pass settles them)`
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

/**
 * The network or TLS failure the connections' socat logs show, as an error (judged as the
 * donor's probe and `check --peer` judge it), or null.
 */
async function tlsProblem(ctx: RunnerContext, what: string): Promise<SstError | null> {
  const texts = await socatLogs(ctx);
  if (!texts) return null;
  const peer = `joiner ${ctx.peer}`;
  const f = classifyConnectionFailure(texts);
  if (!f) {
    const first = texts.split("\n").find((l) => l.trim())?.replace(/^.* E /, "") ?? "";
    if (/timed out|timeout/i.test(first)) {
      return new TimeoutError(
        `${what}: connecting to ${ctx.peer} timed out (${first}); check routing and firewalls, [sst] tunnel-connect-timeout`,
      );
    }
    return new TransferError(`${what}: ${peer}: ${first}`);
  }
  const e = connectionError(texts, ctx.peer);
  return f.layer === "network"
    ? new TransferError(`${what}: ${e.message}`, e.exitCode)
    : new SstError(e.exitCode, `${what}: ${e.message}`);
}

/** The error for rsync of `job` ending with `code`/`signal` and `stderr` (exported for a pull). */
export async function explainFailure(
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
 * at a time. On the first failure every other job is stopped and that failure is thrown.
 */
export async function runPool(
  jobs: readonly SizedJob[],
  lanes: Lanes,
  ctx: RunnerContext,
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
