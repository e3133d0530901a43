/**
 * Progress of the donor's data copy, as DBAs expect from a long transfer: an INFO line
 * `copied X of Y (Z %), R MiB/s, ETA T` at most every 10 s and once at the end, and with
 * `--progress 1` the `total <bytes>` / `complete <bytes>` protocol lines mariadbd understands
 * (docs/sst-protocol.md §2.4; 10.11 logs them at debug level).
 *
 * Bytes copied are what the rsync senders have read (`rchar` in `/proc/<pid>/io`, mostly file
 * data: with `--whole-file` the protocol traffic they read is small), so no byte of data passes
 * through this program. The total is the size of the files the jobs send, counted before the
 * copy (selection.ts).
 *
 * @module
 */

/** Default interval between INFO lines. */
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

/** The INFO line for `done` of `total` bytes after `elapsedSec` seconds. */
export function progressLine(done: number, total: number, elapsedSec: number): string {
  const d = Math.min(done, total);
  const pct = total > 0 ? Math.floor((d / total) * 100) : 100;
  const rate = elapsedSec > 0 ? d / elapsedSec : 0;
  const eta = d >= total ? 0 : rate > 0 ? (total - d) / rate : Infinity;
  return `copied ${formatBytes(d)} of ${formatBytes(total)} (${pct} %), ` +
    `${(rate / 1048576).toFixed(0)} MiB/s, ETA ${formatDuration(eta)}`;
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
    this.sinks.info(progressLine(done, this.total, (t - this.started) / 1000));
    if (done !== this.lastReported) this.sinks.protocol?.(`complete ${done}`);
    this.lastReported = done;
  }
}
