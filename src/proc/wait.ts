/**
 * The one way this program waits. Every wait is bounded (a limit in milliseconds, or a
 * condition that bounds itself and says so) and ends at once, rejecting with the signal's
 * reason, when its `AbortSignal` fires: a signal arrived, mariadbd went away or the overall
 * deadline passed (the SST's `Stopper` aborts its signal with the matching error).
 *
 * - {@link sleep}: a pause that an abort cuts short.
 * - {@link waitFor}: polls a condition every `every` ms until it yields a value, up to `limit`.
 * - {@link withDeadline}: a promise, or what `onTimeout` says after `ms` (the shape of std's
 *   `async/deadline.ts`); {@link abortable}: a promise that an abort cuts short.
 * - {@link Stopwatch}: elapsed time against a limit, for waits whose clock restarts (the
 *   joiner's idle timeout restarts on every byte that arrives).
 * - {@link watch}: a background check that never keeps the process alive.
 *
 * Nothing outside this module compares the clock against a limit or races a timer
 * (test/unit/wait_test.ts scans `src/` for it).
 *
 * @module
 */

/** What a wait without `onTimeout` rejects with when its limit passes. */
export class DeadlineError extends Error {
  constructor(readonly ms: number) {
    super(`no result within ${ms} ms`);
    this.name = "DeadlineError";
  }
}

/** Resolves after `ms` milliseconds; rejects with `signal.reason` as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return withDeadline(new Promise<never>(() => {}), { ms, signal, onTimeout: () => undefined });
}

/** Options of {@link withDeadline}. */
export interface DeadlineOptions<R> {
  /** How long to wait; `Infinity` leaves the bound to `signal` (and to the promise itself). */
  ms: number;
  signal?: AbortSignal;
  /** The result after `ms` (may throw); default: reject with a {@link DeadlineError}. */
  onTimeout?: () => R | Promise<R>;
}

/**
 * Settles like `promise`, unless `ms` pass first (then like `onTimeout()`) or `signal` aborts
 * first (then rejects with its reason). The promise itself is not cancelled: whoever started
 * it stops what it stands for (e.g. kills the child).
 */
export function withDeadline<T, R = never>(
  promise: Promise<T>,
  opts: DeadlineOptions<R>,
): Promise<T | R> {
  const { signal } = opts;
  return new Promise<T | R>((resolve, reject) => {
    if (signal?.aborted) {
      promise.catch(() => {});
      return reject(signal.reason);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      finish();
    };
    const onAbort = () => settle(() => reject(signal!.reason));
    signal?.addEventListener("abort", onAbort, { once: true });
    if (Number.isFinite(opts.ms)) {
      timer = setTimeout(() =>
        settle(() => {
          try {
            resolve(opts.onTimeout ? opts.onTimeout() : Promise.reject(new DeadlineError(opts.ms)));
          } catch (e) {
            reject(e);
          }
        }), Math.max(0, opts.ms));
    }
    promise.then((v) => settle(() => resolve(v)), (e) => settle(() => reject(e)));
  });
}

/** `promise`, unless `signal` aborts first (then rejects with its reason); no time limit. */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  return withDeadline(promise, { ms: Infinity, signal });
}

/** What a {@link waitFor} condition yields: `undefined` or `false` mean "not yet". */
export type Poll<T> = T | undefined | false;

/** Options of {@link waitFor}. */
export interface WaitOptions<R> {
  /** Pause between two evaluations of the condition, in milliseconds. */
  every: number;
  /**
   * Give up once this many milliseconds passed (checked after each evaluation, so the
   * condition is evaluated at least once). `Infinity` only where the condition throws on its
   * own bound (the joiner's initial and idle timeouts).
   */
  limit: number;
  signal?: AbortSignal;
  /** The result at the limit (may throw); default: reject with a {@link DeadlineError}. */
  onTimeout?: () => R | Promise<R>;
  /** Ends a pause early when it settles (e.g. a child's exit), so the condition sees it now. */
  wake?: Promise<unknown>;
}

/**
 * Evaluates `condition` (which may do the wait's per-tick work, and may throw to end it), then
 * every `every` ms, until it yields a value other than `undefined`/`false`, which it resolves
 * with. At `limit`: `onTimeout()`. On `signal`'s abort: rejects with its reason, at once.
 */
export async function waitFor<T, R = never>(
  condition: () => Poll<T> | Promise<Poll<T>>,
  opts: WaitOptions<R>,
): Promise<T | R> {
  const clock = new Stopwatch();
  const wake = opts.wake?.then(() => {}, () => {});
  for (;;) {
    opts.signal?.throwIfAborted();
    const v = await condition();
    if (v !== undefined && v !== false) return v;
    if (clock.reached(opts.limit)) {
      if (opts.onTimeout) return await opts.onTimeout();
      throw new DeadlineError(opts.limit);
    }
    if (wake) {
      await withDeadline(wake, { ms: opts.every, signal: opts.signal, onTimeout: () => {} });
    } else await sleep(opts.every, opts.signal);
  }
}

/** Elapsed time since start (or the last {@link Stopwatch.restart}), against limits. */
export class Stopwatch {
  #start = Date.now();

  /** Milliseconds since the start. */
  elapsed(): number {
    return Date.now() - this.#start;
  }

  /** True once `ms` milliseconds have passed since the start. */
  reached(ms: number): boolean {
    return this.elapsed() >= ms;
  }

  /** Milliseconds left until `ms` have passed since the start (0 once they have). */
  left(ms: number): number {
    return Math.max(0, ms - this.elapsed());
  }

  /** Starts again from now. */
  restart(): void {
    this.#start = Date.now();
  }
}

/**
 * Calls `check` every `everyMs` in the background, on a timer that never keeps the process
 * alive; returns the function that stops it.
 */
export function watch(check: () => void, everyMs: number): () => void {
  const id = setInterval(check, everyMs);
  Deno.unrefTimer(id);
  return () => clearInterval(id);
}
