/**
 * The pass runner's queue and pool, driven without rsync (the pool's `run` is a stand-in that
 * records what ran): which lane takes which job, a failure stops the rest, and one plan runs
 * twice with the same result (the hot pass, then the locked pass).
 */
import { assertEquals, assertRejects } from "../support/assert.ts";
import { JobQueue, runPool, type SizedJob } from "../../src/transfer/rsync_runner.ts";
import type { RsyncJob } from "../../src/transfer/passes.ts";

function job(label: string, bytes: number): SizedJob {
  const j: RsyncJob = {
    label,
    selection: { kind: "files" },
    options: [],
    sources: [],
    module: "m",
  };
  return { job: j, bytes };
}

const PLAN = [job("a", 500), job("b", 10), job("c", 300), job("d", 5), job("e", 40)];
/** The pool's hooks with `run` as the job runner (nothing else runs to stop). */
const pool = (run: (job: RsyncJob) => Promise<void>) => ({ run, stopOthers: async () => {} });

Deno.test("job queue: the largest from one end, small ones (up to a size) from the other", () => {
  const q = new JobQueue(PLAN);
  assertEquals(q.takeLargest()?.label, "a");
  assertEquals(q.takeSmall(8)?.label, "d");
  assertEquals(q.takeSmall(8), null); // b (10 B) is over the limit
  assertEquals(q.takeSmall(10)?.label, "b");
  assertEquals([q.takeLargest()?.label, q.takeLargest()?.label, q.takeLargest()], ["c", "e", null]);
  assertEquals(q.size, 0);
});

Deno.test("pool: one stream and the short lane run every job once, the lead first; a second run of the same plan runs it all again", async () => {
  for (let pass = 0; pass < 2; pass++) {
    const ran: string[] = [];
    const run = (j: RsyncJob) => {
      ran.push(j.label);
      return new Promise<void>((r) => setTimeout(r, j.label === "a" ? 30 : 1));
    };
    await runPool(
      PLAN,
      {
        kind: "parallel",
        streams: 1,
        short: { lead: job("lead", 0).job, shortBytes: 10 },
      },
      pool(run),
    );
    assertEquals(ran.sort(), ["a", "b", "c", "d", "e", "lead"]);
  }
});

Deno.test("pool: the first failure stops the queue and is thrown", async () => {
  const ran: string[] = [];
  const run = (j: RsyncJob) => {
    ran.push(j.label);
    return j.label === "a" ? Promise.reject(new Error("a failed")) : Promise.resolve();
  };
  await assertRejects(
    () => runPool(PLAN, { kind: "parallel", streams: 1, short: { shortBytes: 0 } }, pool(run)),
    Error,
    /a failed/,
  );
  assertEquals(ran, ["a"]);
});

Deno.test("pool: serial lanes (a bandwidth cap) run the lead, then every job largest first, never two at once", async () => {
  const ran: string[] = [];
  let running = 0;
  let most = 0;
  const run = async (j: RsyncJob) => {
    ran.push(j.label);
    most = Math.max(most, ++running);
    await new Promise((r) => setTimeout(r, 2));
    running--;
  };
  await runPool(PLAN, { kind: "serial", lead: job("lead", 0).job }, pool(run));
  assertEquals(ran, ["lead", "a", "c", "e", "b", "d"]);
  assertEquals(most, 1);
});
