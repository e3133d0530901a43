/**
 * The one way to wait (src/proc/wait.ts): bounded, polled at the stated interval, and ended at
 * once by an abort with the abort's reason; and nothing else in `src/` makes its own deadline
 * or timer race.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import {
  abortable,
  DeadlineError,
  sleep,
  Stopwatch,
  waitFor,
  withDeadline,
} from "../../src/proc/wait.ts";
import { AbortedError, ExitCode, TimeoutError } from "../../src/core/errors.ts";
import { Stopper } from "../../src/sst/context.ts";
import { sourceFiles as sourcesUnder } from "../support/source_files.ts";

const stopped = () => new AbortedError(ExitCode.interrupted, "received SIGTERM; stopping the SST");

/** An AbortController aborted with `reason` after `ms`. */
function abortAfter(ms: number, reason: Error): AbortSignal {
  const c = new AbortController();
  setTimeout(() => c.abort(reason), ms);
  return c.signal;
}

Deno.test("sleep: resolves after its time; an abort ends it at once with the abort's reason", async () => {
  const t = new Stopwatch();
  await sleep(30);
  assert(t.reached(25), `slept ${t.elapsed()} ms`);
  const reason = stopped();
  t.restart();
  const e = await assertRejects(() => sleep(10_000, abortAfter(20, reason)), AbortedError);
  assert(e === reason, "rejects with the abort's reason");
  assert(!t.reached(2000), `an abort after 20 ms ended a 10 s sleep after ${t.elapsed()} ms`);
});

Deno.test("waitFor: returns the condition's first value, evaluating it every `every` ms", async () => {
  let calls = 0;
  const t = new Stopwatch();
  const v = await waitFor(() => ++calls === 4 ? "ready" : undefined, { every: 30, limit: 5000 });
  assertEquals(v, "ready");
  assertEquals(calls, 4);
  assert(t.reached(80), `3 pauses of 30 ms took ${t.elapsed()} ms`);
  assertEquals(await waitFor(() => true, { every: 10_000, limit: 0 }), true, "no pause first");
});

Deno.test("waitFor: at its limit gives onTimeout's result, or rejects with DeadlineError", async () => {
  let calls = 0;
  const t = new Stopwatch();
  const r = await waitFor(() => (calls++, false), {
    every: 20,
    limit: 100,
    onTimeout: () => "gave up",
  });
  assertEquals(r, "gave up");
  assert(t.reached(100) && !t.reached(3000), `gave up after ${t.elapsed()} ms`);
  assert(calls >= 3 && calls <= 7, `${calls} evaluations in 100 ms every 20 ms`);
  await assertRejects(() => waitFor(() => undefined, { every: 10, limit: 30 }), DeadlineError);
  await assertRejects(
    () =>
      waitFor(() => undefined, {
        every: 10,
        limit: 30,
        onTimeout: () => {
          throw new TimeoutError("the key's message");
        },
      }),
    TimeoutError,
    /the key's message/,
  );
});

Deno.test("waitFor: an abort during the pause rejects at once with its reason; an aborted signal evaluates nothing", async () => {
  const reason = stopped();
  const t = new Stopwatch();
  const e = await assertRejects(
    () =>
      waitFor(() => undefined, { every: 10_000, limit: 30_000, signal: abortAfter(30, reason) }),
    AbortedError,
  );
  assert(e === reason, "rejects with the abort's reason");
  assert(!t.reached(2000), `ended ${t.elapsed()} ms into a 10 s pause`);
  let calls = 0;
  const c = new AbortController();
  c.abort(reason);
  await assertRejects(
    () => waitFor(() => (calls++, true), { every: 10, limit: 100, signal: c.signal }),
    AbortedError,
  );
  assertEquals(calls, 0);
});

Deno.test("waitFor: a condition that throws ends the wait with its error", async () => {
  await assertRejects(
    () =>
      waitFor(() => {
        throw new TimeoutError("idle");
      }, { every: 10, limit: Infinity }),
    TimeoutError,
  );
});

Deno.test("waitFor: `wake` ends a pause early, so a child's exit is seen at once", async () => {
  let done = false;
  const exit = sleep(40).then(() => done = true);
  const t = new Stopwatch();
  await waitFor(() => done, { every: 10_000, limit: Infinity, wake: exit });
  assert(!t.reached(2000), `saw the exit after ${t.elapsed()} ms of a 10 s pause`);
});

Deno.test("withDeadline: the promise's value, onTimeout's after `ms`, the abort's reason on abort", async () => {
  assertEquals(await withDeadline(Promise.resolve(7), { ms: 1000 }), 7);
  const never = new Promise<number>(() => {});
  assertEquals(await withDeadline(never, { ms: 20, onTimeout: () => "late" }), "late");
  await assertRejects(() => withDeadline(never, { ms: 20 }), DeadlineError);
  await assertRejects(
    () => withDeadline(Promise.reject(new TypeError("x")), { ms: 1000 }),
    TypeError,
  );
  const reason = stopped();
  const t = new Stopwatch();
  const e = await assertRejects(
    () => withDeadline(never, { ms: 10_000, signal: abortAfter(20, reason) }),
    AbortedError,
  );
  assert(e === reason && !t.reached(2000), `abort took ${t.elapsed()} ms`);
  await assertRejects(() => abortable(never, abortAfter(10, reason)), AbortedError);
  assertEquals(await abortable(sleep(10).then(() => 1)), 1);
});

Deno.test("Stopwatch: reached and left count from the start and from a restart", async () => {
  const w = new Stopwatch();
  assert(!w.reached(1000) && w.left(1000) > 900);
  await sleep(30);
  assert(w.reached(25) && w.left(25) === 0);
  w.restart();
  assert(!w.reached(25));
});

Deno.test("Stopper: stop() aborts its signal at once with the reason; check() throws it; the first reason wins", () => {
  const s = new Stopper(undefined, 0);
  try {
    assert(!s.signal.aborted && s.pending() === null);
    const first = stopped();
    s.stop(first);
    s.stop(new AbortedError(ExitCode.transfer, "later"));
    assert(s.signal.aborted && s.signal.reason === first);
    let thrown: unknown;
    try {
      s.check();
    } catch (e) {
      thrown = e;
    }
    assert(thrown === first && s.pending() === first);
  } finally {
    s.close();
  }
});

Deno.test("Stopper: a lapsed tunnel-deadline aborts the signal by itself (no wait polls it)", async () => {
  const s = new Stopper(undefined, 1);
  try {
    const e = await assertRejects(
      () => sleep(10_000, s.signal),
      TimeoutError,
      /tunnel-deadline=1 s/,
    );
    assert(s.signal.reason === e);
  } finally {
    s.close();
  }
});

Deno.test("Stopper: a --parent that is gone aborts the signal by itself", async () => {
  const p = new Deno.Command("true").spawn();
  await p.status;
  const s = new Stopper(p.pid, 0);
  try {
    await assertRejects(() => sleep(10_000, s.signal), AbortedError, /--parent \d+\) is gone/);
  } finally {
    s.close();
  }
});

// --- One way to wait: the source scan ---------------------------------------------------------

const SRC = new URL("../../src/", import.meta.url);
/** The one module allowed to read the clock against a limit, race promises and set timers. */
const WAIT_MODULE = "proc/wait.ts";

/**
 * `Date.now()` lines outside the wait module that only measure, for the log or a record, never
 * against a limit: file, then the line's text (trimmed). A new one must be added here, with
 * the reason, or use the wait module.
 */
const MEASURED: readonly [string, string][] = [
  // How long one rsync job took (DEBUG line).
  ["transfer/rsync_runner.ts", "const started = Date.now();"],
  [
    "transfer/rsync_runner.ts",
    "log.debug(`${job.label}: done in ${((Date.now() - started) / 1000).toFixed(1)} s${note}`);",
  ],
  // When the pre-copy record was made (a timestamp stored in it).
  ["transfer/precopy_record.ts", "const record = new PrecopyRecord(Date.now(), await mappings());"],
];

/** Hand-made waits: a race (of a timer), a timer, or the clock read outside {@link MEASURED}. */
function handMadeWaits(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [file, text] of files) {
    if (file === WAIT_MODULE) continue;
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (line.startsWith("//") || line.startsWith("*")) return;
      const timer = /\bPromise\.race\(|\bset(?:Timeout|Interval)\(/.test(line);
      const clock = line.includes("Date.now()") &&
        !MEASURED.some(([f, l]) => f === file && l === line);
      if (timer || clock) out.push(`src/${file}:${i + 1}: ${line}`);
    });
  }
  return out;
}

Deno.test("one way to wait: no deadline arithmetic, Promise.race or timer in src/ outside proc/wait.ts", async () => {
  const files = await sourcesUnder(SRC);
  assertEquals(handMadeWaits(files), []);
  // The allow-list names only lines that exist: a stale entry would hide nothing, but mislead.
  const stale = MEASURED.filter(([f, l]) =>
    !(files.get(f) ?? "").split("\n").some((x) => x.trim() === l)
  );
  assertEquals(stale, [], "allow-listed clock reads that no longer exist");
});

Deno.test("one way to wait: the scan finds a hand-made deadline, a race and a timer, and allows measured durations", () => {
  const files = new Map([
    ["sst/x.ts", "const deadline = Date.now() + 5000;\nwhile (Date.now() < deadline) f();\n"],
    ["cli/y.ts", "await Promise.race([p, t]);\nsetTimeout(r, 10);\n// Date.now() in a comment\n"],
    ["transfer/rsync_runner.ts", "  const started = Date.now();\n"],
    ["proc/wait.ts", "return Date.now() - this.#start;\n"],
  ]);
  assertEquals(handMadeWaits(files), [
    "src/sst/x.ts:1: const deadline = Date.now() + 5000;",
    "src/sst/x.ts:2: while (Date.now() < deadline) f();",
    "src/cli/y.ts:1: await Promise.race([p, t]);",
    "src/cli/y.ts:2: setTimeout(r, 10);",
  ]);
});
