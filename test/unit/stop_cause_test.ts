/**
 * One function decides which failure a run reports (src/sst/stop_cause.ts): an unexpected
 * error during a stop is reported as the stop; a stop of the joiner gives way to a full disk
 * its daemon saw, then to the donor's refusal; anything else is its own cause.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { type JoinerWitnesses, stopCause } from "../../src/sst/stop_cause.ts";
import {
  AbortedError,
  ExitCode,
  SstError,
  TimeoutError,
  TransferError,
} from "../../src/core/errors.ts";

const STOP = new AbortedError(ExitCode.interrupted, "received SIGTERM; stopping the SST");
const FULL = new SstError(ExitCode.noSpace, "the joiner ran out of disk space");
const BROKEN = new TransferError("a transfer from the donor broke off");
const REFUSED = new SstError(ExitCode.unsupportedPair, "the donor refused this SST: …");

function joiner(session: SstError | null, refusal: SstError | null): JoinerWitnesses {
  return { session: () => Promise.resolve(session), refusal: () => Promise.resolve(refusal) };
}

Deno.test("stopCause: an unexpected error while stopping is reported as the stop; without a stop it stays a bug", async () => {
  const bug = new TypeError("reading a closed stream");
  assertEquals(await stopCause(bug, { stopped: () => STOP }), STOP);
  assertEquals(await stopCause(bug, { stopped: () => null }), bug);
});

Deno.test("stopCause: a stopped joiner reports a full disk first, then the donor's refusal, then the stop", async () => {
  const cause = (w: JoinerWitnesses) => stopCause(STOP, { stopped: () => STOP, joiner: w });
  assertEquals(await cause(joiner(FULL, REFUSED)), FULL);
  assertEquals(await cause(joiner(BROKEN, REFUSED)), REFUSED);
  assertEquals(await cause(joiner(BROKEN, null)), STOP);
  assertEquals(await cause(joiner(null, null)), STOP);
});

Deno.test("stopCause: a failure that is not a stop (a timeout naming its key) is its own cause, whatever the witnesses", async () => {
  const timeout = new TimeoutError("no data arrived for [sst] tunnel-idle-timeout=30 s");
  let asked = false;
  const w: JoinerWitnesses = {
    session: () => (asked = true, Promise.resolve(FULL)),
    refusal: () => (asked = true, Promise.resolve(REFUSED)),
  };
  assertEquals(await stopCause(timeout, { stopped: () => STOP, joiner: w }), timeout);
  assert(!asked, "the witnesses are only asked about a stop");
});
