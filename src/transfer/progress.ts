/**
 * Progress of the data copy, as DBAs expect from a long transfer, on both sides at the same
 * rhythm ({@link PROGRESS_INTERVAL_MS}), each line named after its phase (`hot pre-copy`,
 * `locked pass`, `locked delta pass`):
 *
 * - the donor ({@link TransferProgress}): `<phase>: copied X of Y (Z %), R MiB/s, ETA T` (a
 *   delta pass says `compared`: it reads every file but sends only the blocks that differ), at
 *   most every 10 s and once at the end, and with `--progress 1` the `total <bytes>` /
 *   `complete <bytes>` protocol lines mariadbd understands (docs/sst-protocol.md §2.4; 10.11
 *   logs them at debug level). Bytes are what the rsync senders have read (`rchar` in
 *   `/proc/<pid>/io`, mostly file data), so no byte of data passes through this program. The
 *   total is the size of the files the jobs send, counted before the copy (selection.ts);
 * - the joiner ({@link ReceiveProgress}): `<phase>: received X of Y (Z %), R MiB/s, ETA T`,
 *   the phase and total from the donor's phase notice (phase_notice.ts); for a delta pass no
 *   ETA (the bytes that cross the wire are only the differing blocks), and without a notice
 *   `received X of an unknown total`.
 *
 * @module
 */

import type { Phase, PhaseNotice } from "./phase_notice.ts";

/** Default interval between INFO lines (both sides). */
export const PROGRESS_INTERVAL_MS = 10_000;

/** Formats bytes as `512.0 MiB` / `4.12 GiB`. */
export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Formats seconds as `42 s`, `3 min 5 s`, `1 h 02 min`. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return "unknown";
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** Formats a rate in bytes per second as `613 MiB/s` (`0.4 MiB/s` below 10). */
export function formatRate(bytesPerSec: number): string {
  const mib = bytesPerSec / 1048576;
  return `${mib < 10 ? mib.toFixed(1) : mib.toFixed(0)} MiB/s`;
}

/** What a progress line names: its phase, and what the bytes counted are. */
export interface ProgressLabel {
  /** The pass (`locked pass`, …), or null for none. */
  phase: string | null;
  /** `copied` (whole files), `compared` (delta: read, partly sent) or `received` (joiner). */
  verb: "copied" | "compared" | "received";
}

/** The INFO line for `done` of `total` bytes after `elapsedSec` seconds. */
export function progressLine(
  done: number,
  total: number,
  elapsedSec: number,
  label: ProgressLabel = { phase: null, verb: "copied" },
): string {
  const d = Math.min(done, total);
  const pct = total > 0 ? Math.floor((d / total) * 100) : 100;
  const rate = elapsedSec > 0 ? d / elapsedSec : 0;
  const eta = d >= total ? 0 : rate > 0 ? (total - d) / rate : Infinity;
  return `${label.phase ? `${label.phase}: ` : ""}${label.verb} ${formatBytes(d)} of ` +
    `${formatBytes(total)} (${pct} %), ${formatRate(rate)}, ETA ${formatDuration(eta)}`;
}

/** Where the meter reports. */
export interface ProgressSinks {
  /** An INFO line for the error log. */
  info: (line: string) => void;
  /** A protocol line on stdout (`total N`, `complete N`), only with `--progress 1`. */
  protocol?: (line: string) => void;
  /** Bytes read so far by process `pid`, or null if it is gone (default: procfs `rchar`). */
  readBytes?: (pid: number) => number | null;
  now?: () => number;
  intervalMs?: number;
  /** The phase the lines name and what their bytes are (default: unnamed, `copied`). */
  label?: ProgressLabel;
}

/** `rchar` of a process from procfs, or null. */
export function procReadBytes(pid: number): number | null {
  try {
    const io = Deno.readTextFileSync(`/proc/${pid}/io`);
    const m = /^rchar: (\d+)/m.exec(io);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Follows the rsync senders of one copy; see the module documentation. */
export class TransferProgress {
  private readonly seen = new Map<number, number>();
  private readonly live = new Set<number>();
  private readonly started: number;
  private lastInfo: number;
  private lastReported = -1;
  private readonly now: () => number;
  private readonly read: (pid: number) => number | null;
  private readonly interval: number;

  constructor(readonly total: number, private readonly sinks: ProgressSinks) {
    this.now = sinks.now ?? Date.now;
    this.read = sinks.readBytes ?? procReadBytes;
    this.interval = sinks.intervalMs ?? PROGRESS_INTERVAL_MS;
    this.started = this.now();
    this.lastInfo = this.started;
    sinks.protocol?.(`total ${total}`);
  }

  /** Starts following an rsync sender. */
  track(pid: number): void {
    this.live.add(pid);
    this.seen.set(pid, 0);
  }

  /** Reads the live senders; a sender that is gone keeps its last figure. */
  copied(): number {
    for (const pid of [...this.live]) {
      const b = this.read(pid);
      if (b === null) this.live.delete(pid);
      else this.seen.set(pid, Math.max(b, this.seen.get(pid) ?? 0));
    }
    let sum = 0;
    for (const b of this.seen.values()) sum += b;
    return Math.min(sum, this.total);
  }

  /** Call often: reports when the interval has passed since the last report. */
  tick(): void {
    const t = this.now();
    if (t - this.lastInfo < this.interval) return;
    this.lastInfo = t;
    this.report(this.copied(), t);
  }

  /** The final report: everything was copied. */
  finish(): void {
    this.report(this.total, this.now());
  }

  private report(done: number, t: number): void {
    this.sinks.info(progressLine(done, this.total, (t - this.started) / 1000, this.sinks.label));
    if (done !== this.lastReported) this.sinks.protocol?.(`complete ${done}`);
    this.lastReported = done;
  }
}

/** Where the joiner's meter reports. */
export interface ReceiveSinks {
  /** An INFO line for the error log. */
  info: (line: string) => void;
  now?: () => number;
  intervalMs?: number;
}

/**
 * Follows what the joiner receives, pass by pass as the donor announces them (phase_notice.ts);
 * see the module documentation.
 */
export class ReceiveProgress {
  #notice: PhaseNotice | null = null;
  readonly #seen: Phase[] = [];
  readonly #started: number;
  #phaseStarted: number;
  #phaseBase = 0;
  #lastInfo: number;
  readonly #now: () => number;
  readonly #interval: number;

  constructor(private readonly sinks: ReceiveSinks) {
    this.#now = sinks.now ?? Date.now;
    this.#interval = sinks.intervalMs ?? PROGRESS_INTERVAL_MS;
    this.#started = this.#now();
    this.#phaseStarted = this.#started;
    this.#lastInfo = this.#started;
  }

  /** The passes the donor announced, in order. */
  get phases(): readonly Phase[] {
    return this.#seen;
  }

  /**
   * The donor's notice as read now (null: none); a new pass is logged once, when it starts,
   * after the end of the pass before it (the donor starts a pass only once the one before
   * ended well).
   */
  announce(notice: PhaseNotice | null, received: number): void {
    if (notice === null || sameNotice(notice, this.#notice)) return;
    if (this.#notice !== null) this.sinks.info(passDone(this.#notice));
    this.#notice = notice;
    this.#seen.push(notice.phase);
    this.#phaseBase = received;
    this.#phaseStarted = this.#now();
    this.sinks.info(
      `${notice.phase}: the donor ` +
        (notice.delta
          ? `compares ${formatBytes(notice.total)} with this node's files and sends only the ` +
            "blocks that differ"
          : `sends ${formatBytes(notice.total)} (whole files)`),
    );
  }

  /** Call often with the bytes received so far: reports when the interval has passed. */
  tick(received: number): void {
    const t = this.#now();
    if (t - this.#lastInfo < this.#interval) return;
    this.#lastInfo = t;
    this.sinks.info(this.line(received, t));
  }

  /** The last line, once the donor's completion record arrived (all its passes ended). */
  finish(received: number): void {
    if (this.#notice !== null) this.sinks.info(passDone(this.#notice));
    else if (received > 0) this.sinks.info(this.line(received, this.#now()));
  }

  private line(received: number, t: number): string {
    const n = this.#notice;
    if (n === null) {
      const sec = (t - this.#started) / 1000;
      return received === 0
        ? `waiting for the donor to send data (${formatDuration(sec)} so far)`
        : `received ${formatBytes(received)} of an unknown total (the donor does not announce ` +
          `its passes), ${formatRate(received / sec)}`;
    }
    const got = Math.max(0, received - this.#phaseBase);
    const sec = (t - this.#phaseStarted) / 1000;
    if (n.delta) {
      return `${n.phase}: received ${formatBytes(got)}, ${formatRate(sec > 0 ? got / sec : 0)} ` +
        `(only the blocks that differ, out of ${formatBytes(n.total)} compared: no ETA)`;
    }
    if (got >= n.total) {
      return `${n.phase}: received all ${formatBytes(n.total)}; waiting for the donor's next ` +
        "pass or its completion record";
    }
    return progressLine(got, n.total, sec, { phase: n.phase, verb: "received" });
  }
}

/** The line for a pass that ended. */
function passDone(n: PhaseNotice): string {
  return `${n.phase}: done (` +
    (n.delta
      ? `${formatBytes(n.total)} compared, only the blocks that differ received)`
      : `${formatBytes(n.total)} received, whole files)`);
}

function sameNotice(a: PhaseNotice, b: PhaseNotice | null): boolean {
  return b !== null && a.phase === b.phase && a.total === b.total && a.delta === b.delta;
}
