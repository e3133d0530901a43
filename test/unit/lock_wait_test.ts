/**
 * Waiting for another SST's instance lock: an abort (a SIGTERM, through the Stopper's signal)
 * ends the wait at once with the abort's reason and leaves the holder's file alone; without one
 * the wait ends at its limit with exit 114. The holder is a real live process.
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { acquireInstanceLock, PID_FILE } from "../../src/sst/instance_lock.ts";
import { Scope } from "../../src/sst/scope.ts";
import { processStartTime } from "../../src/proc/liveness.ts";
import { AbortedError, BusyError, ExitCode } from "../../src/core/errors.ts";
import { Stopwatch } from "../../src/proc/wait.ts";

/** Runs `fn` with a datadir whose lock a live `sleep` holds. */
async function withHeldLock(fn: (dir: string, holder: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lock-wait-unit-" });
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    const holder = `${sleeper.pid}\nstarted ${processStartTime(sleeper.pid)}\n`;
    await Deno.writeTextFile(`${dir}/${PID_FILE}`, holder);
    await fn(dir, holder);
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("lock wait: an abort while a live SST holds the lock rejects at once with the abort's reason; the holder's file stays", async () => {
  await withHeldLock(async (dir, holder) => {
    const c = new AbortController();
    const reason = new AbortedError(ExitCode.interrupted, "received SIGTERM; stopping the SST");
    setTimeout(() => c.abort(reason), 300);
    const t = new Stopwatch();
    const scope = new Scope();
    const e = await assertRejects(
      () => acquireInstanceLock(dir, scope, 30, c.signal),
      AbortedError,
    );
    assert(e === reason, "the abort's reason, not a lock error");
    assert(!t.reached(5000), `ended ${t.elapsed()} ms into a 30 s wait`);
    assertEquals(await Deno.readTextFile(`${dir}/${PID_FILE}`), holder);
    assertEquals(await scope.close(), []);
  });
});

Deno.test("lock wait: without an abort the wait ends at its limit with exit 114 naming the holder", async () => {
  await withHeldLock(async (dir) => {
    const e = await assertRejects(() => acquireInstanceLock(dir, new Scope(), 1), BusyError);
    assertEquals((e as BusyError).exitCode, ExitCode.already);
    assert(/another SST \(pid \d+\) is still running .* after 1 s/.test(e.message), e.message);
  });
});
