/**
 * The "run, then always tear down" frame of the e2e fixtures (a cluster, a network-namespace
 * lab): an error of the body is never masked by one of the teardown.
 *
 * @module
 */

/**
 * Runs `fn` on `resource`, then always `teardown`. If both fail, the teardown's error is
 * logged as `(<what> also failed: …)` and `fn`'s error is thrown; if only the teardown fails,
 * its error is thrown.
 */
export async function withTeardown<R, T>(
  resource: R,
  fn: (resource: R) => Promise<T>,
  teardown: (resource: R) => Promise<void>,
  what: string,
): Promise<T> {
  let outcome: { ok: true; result: T } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, result: await fn(resource) };
  } catch (error) {
    outcome = { ok: false, error };
  }
  let cleanup: unknown = null;
  try {
    await teardown(resource);
  } catch (e) {
    cleanup = e;
  }
  if (!outcome.ok) {
    if (cleanup) console.error(`(${what} also failed: ${cleanup})`);
    throw outcome.error;
  }
  if (cleanup) throw cleanup;
  return outcome.result;
}
