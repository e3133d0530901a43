/**
 * Clones must never take the server's space. A clone shares its blocks with the live file until
 * mariadbd writes to one of them; from then on every written block takes new space (the old one
 * stays with the clone). So while clones exist, the server's writes consume free space they
 * would otherwise have reused in place, and a long transfer under a heavy load could fill the
 * file system — mariadbd would get ENOSPC because of us.
 *
 * The floor: the larger of {@link DEFAULT_FLOOR}'s 5 % of the file system and 1 GiB, of space
 * free to an unprivileged user (`f_bavail`: mariadbd does not run as root). 1 GiB covers a burst
 * of InnoDB writes (a redo log of the default 96 MiB–1 GiB, temporary tables) between two
 * checks; 5 % keeps XFS and btrfs out of their near-full slow paths on large file systems.
 * Below it no clone is made ({@link checkFloor}); during the transfer {@link watchSpace} checks
 * every file system that holds clones and aborts before free space would cross it: at the last
 * check it forecasts, from the rate space went down since the check before, the free space two
 * checks ahead. The SST then fails with {@link CloneSpaceError}, and dropping the clones gives
 * the space back.
 *
 * @module
 */
import { ExitCode, SstError } from "../core/errors.ts";
import { statFs } from "../proc/statfs.ts";
import { Stopwatch, waitFor } from "../proc/wait.ts";

/** How much free space clones must leave: the larger of a fraction of the file system and a minimum. */
export interface FloorPolicy {
  fraction: number;
  minBytes: number;
}

/** 5 % of the file system, at least 1 GiB (tests pass a smaller one for small images). */
export const DEFAULT_FLOOR: FloorPolicy = { fraction: 0.05, minBytes: 1024 ** 3 };

/** How often {@link watchSpace} checks, by default (ms). */
export const WATCH_EVERY_MS = 250;

/** The floor in bytes for a file system of `total` bytes. */
export function floorOf(total: number, policy: FloorPolicy = DEFAULT_FLOOR): number {
  return Math.max(Math.ceil(total * policy.fraction), policy.minBytes);
}

/** A file system that holds (or will hold) clones, by a path on it. */
export interface GuardedFs {
  /** A path on it: the snapshot directory. */
  path: string;
  /** How messages name it: the server directory it serves and its type. */
  label: string;
}

/** `1.5 GiB`, `300.0 MiB`. */
export function bytesText(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[i]}`;
}

function floorText(total: number, policy: FloorPolicy): string {
  return `the floor of ${bytesText(floorOf(total, policy))} (${policy.fraction * 100} % of ` +
    `${bytesText(total)}, at least ${bytesText(policy.minBytes)})`;
}

/**
 * Free space on a file system that holds clones is (or would soon be) below the floor: the SST
 * stops and drops its clones rather than let the server run out of space (exit 28, ENOSPC).
 */
export class CloneSpaceError extends SstError {
  constructor(
    readonly fs: GuardedFs,
    readonly available: number,
    readonly floor: number,
    message: string,
  ) {
    super(ExitCode.noSpace, message);
  }
}

function spaceOrThrow(fs: GuardedFs): { total: number; available: number } {
  const space = statFs(fs.path);
  if (space === null) {
    throw new SstError(
      ExitCode.io,
      `cannot read the free space of the file system of ${fs.label} (statfs ${fs.path} ` +
        "failed): the snapshot directory was removed under us; keep other programs away from " +
        "#sql-wsrep_sst_snapshot.* directories",
    );
  }
  return space;
}

/**
 * Throws {@link CloneSpaceError} when free space on `fs` is below the floor: no clone may be
 * made there. Returns the free space and the floor otherwise.
 */
export function checkFloor(
  fs: GuardedFs,
  policy: FloorPolicy = DEFAULT_FLOOR,
): { available: number; floor: number } {
  const { total, available } = spaceOrThrow(fs);
  const floor = floorOf(total, policy);
  if (available < floor) {
    throw new CloneSpaceError(
      fs,
      available,
      floor,
      `cannot clone on the file system of ${fs.label}: ${bytesText(available)} free, below ` +
        `${floorText(total, policy)} that clones must leave mariadbd; free ` +
        `${bytesText(floor - available)} there, or set [sst] clone=off`,
    );
  }
  return { available, floor };
}

/** A running {@link watchSpace}. */
export interface SpaceWatch {
  /** Aborts with a {@link CloneSpaceError} (or the error of a failed check) when space runs low. */
  readonly signal: AbortSignal;
  /** Ends the watch (idempotent); resolves once the last check has ended. */
  stop(): Promise<void>;
}

/** Options of {@link watchSpace}. */
export interface SpaceWatchOptions {
  policy?: FloorPolicy;
  /** Pause between two checks (ms); default {@link WATCH_EVERY_MS}. */
  everyMs?: number;
  /** The SST's own signal: the watch ends when it aborts. */
  signal?: AbortSignal;
}

interface Sample {
  available: number;
  at: number;
}

/**
 * Checks the free space of every file system in `fss` every `everyMs` until {@link
 * SpaceWatch.stop} (or `opts.signal`), and aborts {@link SpaceWatch.signal} with a {@link
 * CloneSpaceError} as soon as the free space, less what the last interval's rate would take in
 * two more intervals, is below the floor. The wait is bounded by `stop()`, which the owner
 * registers on its scope.
 */
export function watchSpace(fss: readonly GuardedFs[], opts: SpaceWatchOptions = {}): SpaceWatch {
  const policy = opts.policy ?? DEFAULT_FLOOR;
  const every = opts.everyMs ?? WATCH_EVERY_MS;
  const fired = new AbortController();
  const stopper = new AbortController();
  const onOuter = () => stopper.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onOuter, { once: true });
  const clock = new Stopwatch();
  const last = new Map<string, Sample>();
  const check = (): CloneSpaceError | undefined => {
    for (const fs of fss) {
      const verdict = checkOne(fs, policy, every, clock.elapsed(), last);
      if (verdict) return verdict;
    }
    return undefined;
  };
  const done = waitFor(check, { every, limit: Infinity, signal: stopper.signal }).then(
    (error) => fired.abort(error),
    (e) => {
      if (!stopper.signal.aborted) fired.abort(e);
    },
  );
  return {
    signal: fired.signal,
    async stop() {
      opts.signal?.removeEventListener("abort", onOuter);
      stopper.abort();
      await done;
    },
  };
}

function checkOne(
  fs: GuardedFs,
  policy: FloorPolicy,
  every: number,
  now: number,
  last: Map<string, Sample>,
): CloneSpaceError | undefined {
  const { total, available } = spaceOrThrow(fs);
  const prev = last.get(fs.path);
  last.set(fs.path, { available, at: now });
  const perMs = prev && now > prev.at
    ? Math.max(0, (prev.available - available) / (now - prev.at))
    : 0;
  const forecast = available - perMs * every * 2;
  const floor = floorOf(total, policy);
  if (forecast >= floor) return undefined;
  return new CloneSpaceError(
    fs,
    available,
    floor,
    `free space on the file system of ${fs.label} fell to ${bytesText(available)} ` +
      `(${bytesText(perMs * 1000)}/s going), about to cross ${floorText(total, policy)} that ` +
      "clones must leave mariadbd: the SST stopped and its clones were dropped; free space " +
      "there, or set [sst] clone=off (the locked pass needs no space on the donor)",
  );
}
