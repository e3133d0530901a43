/**
 * Which failure a run reports, decided in one place. A failing SST often fails twice: the donor
 * gives up, mariadbd aborts the joiner (a stop), teardown breaks what was still running. The
 * error that ended the run is then not always the one that explains it; {@link stopCause}
 * picks, most telling first:
 *
 * 1. an unexpected error while the SST is being stopped: the stop (signal, mariadbd gone, the
 *    deadline), since the teardown caused the error (it is logged as a WARNING);
 * 2. a stop, on the joiner: a full disk our daemon saw (the cause of whatever followed), then
 *    the donor's refusal record (its reason), if either is known by now;
 * 3. otherwise the error itself: a timeout names its key, a session failure or a refusal
 *    found while waiting is already the cause.
 *
 * @module
 */
import { AbortedError, ExitCode, SstError } from "../core/errors.ts";
import * as log from "../core/log.ts";

/** What may explain the joiner's failure better than the stop that ended its wait. */
export interface JoinerWitnesses {
  /** The failure our daemon's trusted sessions logged (session_failure.ts), or null. */
  session(): Promise<SstError | null>;
  /** The donor's refusal, if its record has arrived, as the error to report; or null. */
  refusal(): Promise<SstError | null>;
}

/** What {@link stopCause} weighs besides the error. */
export interface StopEvidence {
  /** The stop pending now (what the SST's `Stopper` would throw), or null; asked only for 1. */
  stopped: () => SstError | null;
  /** The joiner's witnesses; the donor has none. */
  joiner?: JoinerWitnesses;
}

/** The failure to report for `error`; see the module documentation for the order. */
export async function stopCause(error: unknown, evidence: StopEvidence): Promise<unknown> {
  const stopped = error instanceof SstError ? null : evidence.stopped();
  if (stopped) {
    log.warn(`while stopping: ${error instanceof Error ? error.message : String(error)}`);
    return stopped;
  }
  if (error instanceof AbortedError && evidence.joiner) {
    const session = await evidence.joiner.session();
    if (session?.exitCode === ExitCode.noSpace) return session;
    return (await evidence.joiner.refusal()) ?? error;
  }
  return error;
}
