/**
 * The one line with each side's totals, logged when the SST ends, well or not:
 *
 * - donor: `SST totals on donor: complete in 2.3 s; passes: hot pre-copy (whole files, copied
 *   65.8 MiB, sent 65.8 MiB), locked delta pass (delta, compared 65.8 MiB, sent 79.0 KiB);
 *   read 131.6 MiB, sent 65.9 MiB, 94 MiB/s; donor writes blocked for 0.4 s`. A pass that
 *   failed is marked `failed`; on a failure the blocked time is the time the lock was held
 *   until then (`until the failure`);
 * - joiner: `SST totals on joiner: complete in 3.1 s; received 65.9 MiB, 21 MiB/s; passes the
 *   donor announced: hot pre-copy, locked delta pass`.
 *
 * "read" is what the donor's rsyncs read of the files they copied (whole files) or compared
 * (delta); "sent" what crossed the wire (rsync's summaries).
 *
 * @module
 */
import { SstError } from "../core/errors.ts";
import type { Phase } from "./phase_notice.ts";
import { formatBytes, formatRate } from "./progress.ts";

/** What one data pass did (pass.ts tells the donor's observer). */
export interface PassSummary {
  phase: Phase;
  /** Delta transfer (only differing blocks sent) or whole files. */
  delta: boolean;
  /** Bytes of the files it copied or compared (its plan's total; read so far if it failed). */
  read: number;
  /** Bytes its rsyncs' summaries say they sent. */
  sent: number;
  seconds: number;
  /** It ended with every job done. */
  ok: boolean;
}

/** How an SST ended, for a totals line. */
export function outcomeOf(error: unknown | null): string {
  if (error === null) return "complete";
  return error instanceof SstError ? `failed (exit ${error.exitCode})` : "failed";
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The donor's totals, fed as the SST runs. */
export class DonorTotals {
  readonly passes: PassSummary[] = [];
  readonly #started: number;
  #lockedAt: number | null = null;
  #unlockedAt: number | null = null;
  #lockFigures: string | null = null;

  constructor(private readonly now: () => number = Date.now) {
    this.#started = now();
  }

  /** A data pass ended. */
  passEnded(s: PassSummary): void {
    this.passes.push(s);
  }

  /** mariadbd has locked the tables (writes blocked from now). */
  locked(): void {
    this.#lockedAt = this.now();
  }

  /** `continue` was written: mariadbd releases the lock. Returns the seconds it was held. */
  unlocked(): number {
    this.#unlockedAt = this.now();
    return (this.#unlockedAt - (this.#lockedAt ?? this.#unlockedAt)) / 1000;
  }

  /**
   * How the lock was spent, as the donor's lock line says it (`0.41 s (mariadbd's flush 0.30 s,
   * clones 0.08 s for 312 files)`): the totals line then shows these figures.
   */
  lockFigures(text: string): void {
    this.#lockFigures = text;
  }

  /** The totals line, for an SST that ended with `error` (null: complete). */
  line(error: unknown | null): string {
    const took = seconds(this.now() - this.#started);
    const head = `SST totals on donor: ${outcomeOf(error)} ${
      error === null ? "in" : "after"
    } ${took}`;
    if (this.passes.length === 0) {
      return `${head}; no data pass${error === null ? " (IST: only the completion record)" : ""}` +
        `; ${this.#blocked(error)}`;
    }
    const read = this.passes.reduce((a, p) => a + p.read, 0);
    const sent = this.passes.reduce((a, p) => a + p.sent, 0);
    const sec = this.passes.reduce((a, p) => a + p.seconds, 0);
    return `${head}; passes: ${this.passes.map(describePass).join(", ")}; read ` +
      `${formatBytes(read)}, sent ${formatBytes(sent)}, ${formatRate(sec > 0 ? read / sec : 0)}` +
      `; ${this.#blocked(error)}`;
  }

  #blocked(error: unknown | null): string {
    if (this.#lockedAt === null) {
      return "donor writes never blocked" + (error === null ? "" : " (failed before the lock)");
    }
    const end = this.#unlockedAt ?? this.now();
    const held = seconds(end - this.#lockedAt);
    if (this.#unlockedAt === null) return `donor writes blocked for ${held} until the failure`;
    return `donor writes blocked for ${this.#lockFigures ?? held}`;
  }
}

function describePass(p: PassSummary): string {
  const how = p.delta
    ? `delta, compared ${formatBytes(p.read)}`
    : `whole files, copied ${formatBytes(p.read)}`;
  return `${p.phase} (${how}, sent ${formatBytes(p.sent)}${p.ok ? "" : ", failed"})`;
}

/** The joiner's totals line. */
export function joinerTotalsLine(t: {
  error: unknown | null;
  seconds: number;
  received: number;
  phases: readonly Phase[];
}): string {
  const outcome = outcomeOf(t.error);
  return `SST totals on joiner: ${outcome} ${t.error === null ? "in" : "after"} ` +
    `${t.seconds.toFixed(1)} s; received ${formatBytes(t.received)}, ` +
    `${formatRate(t.seconds > 0 ? t.received / t.seconds : 0)}; ` +
    (t.phases.length > 0
      ? `passes the donor announced: ${t.phases.join(", ")}`
      : "the donor announced no pass");
}
