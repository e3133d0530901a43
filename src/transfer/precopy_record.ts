/**
 * Which files the locked pass after a pre-copy need not read again, and why that is safe.
 *
 * Just before the hot pass starts, at time T, every file it will send is stat'ed: its stamp is
 * device, inode, size, modification time and change time. Under the lock the files are
 * stat'ed again, and a file is left out of the locked pass only when all of these hold:
 *
 * - the hot-pass rsync that sent it ended cleanly (exit 0: every file it listed arrived whole),
 *   or failed only because some of its files shrank or vanished while it read them (exit 23 or
 *   24, every line it printed saying so: rsync_failures.ts `settledByLockedPass`; rsync goes on
 *   to the next file after each, so the others arrived whole) and the file is neither one those
 *   lines name nor under a directory they name. When such a line names a path outside the
 *   job's sources, or one whose bytes rsync escaped, none of the job's files qualifies;
 * - its stamp is unchanged. Every write through the file system (write, pwrite, O_DIRECT,
 *   Linux AIO, io_uring: they all end in the same write path), truncate and fallocate set its
 *   mtime and ctime to the current time; chmod, chown, link and rename set its ctime; a table
 *   rebuilt or renamed over it is another inode;
 * - it was last modified more than {@link UNCHANGED_MARGIN_MS} before T. Then a
 *   write after T sets times at least T minus one clock tick, so they differ from the recorded
 *   ones; and a write submitted before T whose data lands only after the hot pass read it
 *   (a write in flight: its times are set when it is submitted) would have had to stay in
 *   flight for longer than the margin;
 * - no process maps it shared and writable, at T or under the lock: a store through a mapped
 *   page that is already dirty changes the content without touching the times;
 * - its name can be an exact rsync filter rule (no `*`, `?`, `[`, `\`, CR or LF) and is UTF-8
 *   (a name that is not reaches us with U+FFFD in place of its bytes).
 *
 * Every other file is compared by content (rsync's delta transfer).
 *
 * @module
 */
import type { RsyncJob } from "./passes.ts";
import type { RsyncLine } from "./rsync_failures.ts";
import { type SentFile, type TreeWalk, trimSlash } from "./selection.ts";
import { statxTimes } from "../proc/statx.ts";

/**
 * How long before the pre-copy starts a file must have been written last to be vouched for: an
 * upper bound on how long one write stays in flight (twice the block layer's default command
 * timeout of 30 s).
 */
export const UNCHANGED_MARGIN_MS = 60_000;

/** What statx says about a file's identity, length and last change (times in ns). */
export interface FileStamp {
  dev: string;
  ino: string;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** The stamp of the file at `path` (links followed), or null when it cannot be read. */
export function stampOf(path: string): FileStamp | null {
  const st = statxTimes(path);
  if (!st) return null;
  return {
    dev: `${st.devMajor}:${st.devMinor}`,
    ino: String(st.ino),
    size: st.size,
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
  };
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size &&
    a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** The anchored rsync filter rule naming exactly `rel`, or null when no rule can. */
export function exactRule(rel: string): string | null {
  // U+FFFD: a name that is not UTF-8, as Deno shows it; the rule would name another file.
  return /[*?[\\\r\n\uFFFD]/.test(rel) ? null : `/${rel}`;
}

/**
 * The inode numbers of the files that some process maps shared and writable, from every
 * `/proc/<pid>/maps` we can read (the server runs as our user). Inode numbers only, whatever
 * the device: a coincidence only makes a file compared by content.
 */
export async function writableMappings(proc = "/proc"): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const e of Deno.readDir(proc)) {
    if (!/^\d+$/.test(e.name)) continue;
    const text = await Deno.readTextFile(`${proc}/${e.name}/maps`).catch(() => "");
    for (const line of text.split("\n")) {
      // address perms offset dev inode [path]
      const f = line.split(/\s+/);
      if (f[1]?.[1] === "w" && f[1]?.[3] === "s" && /^[1-9]\d*$/.test(f[4] ?? "")) out.add(f[4]);
    }
  }
  return out;
}

/**
 * The path a line about a file that shrank or vanished names (between its first and last `"`),
 * or null when it names none or rsync escaped a byte of it (`\#ooo`): then it may be any file.
 */
function namedPath(line: RsyncLine): string | null {
  const m = /"(.*)"/.exec(line.text);
  return m && !m[1].includes("\\") ? m[1] : null;
}

/** Whether `path` is `dir` or lies under it. */
function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** The key of a job across passes (the runner hands out copies with more options). */
function jobKey(job: RsyncJob): string {
  return `${job.module}\0${job.selection.kind}\0${job.sources.join("\0")}`;
}

/** The stamps taken before a hot pass, and which of its jobs ended cleanly. */
export class PrecopyRecord {
  readonly #stamps = new Map<string, FileStamp>();
  readonly #filesOf = new Map<string, string[]>();
  readonly #clean = new Set<string>();

  private constructor(readonly takenAt: number, readonly mapped: ReadonlySet<string>) {}

  /** Stamps every file `jobs` send, now (before the hot pass starts). */
  static async take(
    walk: TreeWalk,
    jobs: readonly RsyncJob[],
    mappings: () => Promise<Set<string>> = writableMappings,
  ): Promise<PrecopyRecord> {
    const record = new PrecopyRecord(Date.now(), await mappings());
    for (const job of jobs) {
      const files = await walk.files(job.selection, job.sources);
      record.#filesOf.set(jobKey(job), files.map((f) => f.path));
      for (const f of files) {
        const stamp = stampOf(f.path);
        if (stamp) record.#stamps.set(f.path, stamp);
      }
    }
    return record;
  }

  /**
   * Records that the hot pass's `job` ended: cleanly (`settled` empty: every file it listed
   * arrived whole), or after the files that `settled` (the rsync lines its pass tolerated) name
   * shrank or vanished: every other file arrived whole.
   */
  ended(job: RsyncJob, settled: readonly RsyncLine[] = []): void {
    const sources = job.sources.map(trimSlash);
    const named: string[] = [];
    for (const line of settled) {
      if (line.kind === "partial") continue; // rsync's closing line names no file
      const path = namedPath(line);
      if (path === null || !sources.some((s) => isWithin(path, s))) return;
      named.push(path);
    }
    for (const path of this.#filesOf.get(jobKey(job)) ?? []) {
      if (!named.some((n) => isWithin(path, n))) this.#clean.add(path);
    }
  }

  /** Whether the locked pass may leave `f` (stat'ed under the lock) out. */
  vouchesFor(f: SentFile, mappedNow: ReadonlySet<string>): boolean {
    return this.verdict(f, mappedNow) === "unchanged";
  }

  /** Whether the locked pass may leave `f` out, or the first check above that it fails. */
  verdict(f: SentFile, mappedNow: ReadonlySet<string>): Verdict {
    const before = this.#stamps.get(f.path);
    const now = stampOf(f.path);
    if (!before || !now) return "new";
    if (!this.#clean.has(f.path)) return "not-sent-whole";
    if (!sameStamp(before, now)) return "changed";
    const settled = BigInt(this.takenAt - UNCHANGED_MARGIN_MS) * 1_000_000n;
    if (before.mtimeNs >= settled) return "recent";
    if (this.mapped.has(now.ino) || mappedNow.has(now.ino)) return "mapped";
    return exactRule(f.rel) !== null ? "unchanged" : "name";
  }
}

/** What the record says of a file under the lock: left out, or why it is compared. */
export type Verdict =
  /** Every check holds: the locked pass leaves it out. */
  | "unchanged"
  /** Not in the record (created since, or not stat'able then), or gone now. */
  | "new"
  /** The hot rsync that was to send it failed, or named it as shrunk or vanished. */
  | "not-sent-whole"
  /** Written, truncated, renamed or replaced since the record: its stamp differs. */
  | "changed"
  /** Unchanged since the record, but written less than the margin before it. */
  | "recent"
  /** Some process maps it shared and writable. */
  | "mapped"
  /** Its name cannot be an exact rsync filter rule. */
  | "name";

/** How the donor's log names the files compared for `v` (not for `unchanged`). */
export function verdictLabel(v: Exclude<Verdict, "unchanged">): string {
  switch (v) {
    case "new":
      return "new since the pre-copy began";
    case "not-sent-whole":
      return "not sent whole by the hot pass";
    case "changed":
      return "changed since the pre-copy began";
    case "recent":
      return `written in the ${UNCHANGED_MARGIN_MS / 1000} s before the pre-copy`;
    case "mapped":
      return "mapped shared and writable";
    case "name":
      return "named with rsync filter characters";
  }
}
