/**
 * A SIGTERM while an SST waits for the instance lock (`wsrep_sst.pid`, held by another SST on
 * the same datadir, waited for up to 30 s) ends that SST at once with the signal's exit code
 * (3), not after the wait with "another SST is running" (114); the holder's lock stays. Real
 * processes only: two joiners of our launcher on the same datadir. Recorded in the hardening
 * ledger.
 */
import { assertEquals } from "../support/assert.ts";
import { joinerArgv, LAUNCHER } from "../../scripts/lib/sst_driver.ts";
import {
  filesLeftBehind,
  type Fixture,
  pollUntil,
  waitNoProcesses,
  withFixture,
} from "../../scripts/lib/fixture.ts";
import { record, recordCount } from "../../scripts/lib/ledger.ts";
import { type Child, denoAdapter, stop } from "../../src/proc/process.ts";

const INTERRUPTED = 3;
/** Well under the 30 s lock wait: a stop that waits the lock out cannot pass. */
const PROMPT_SECS = 10;

/** Starts a joiner on the fixture's joiner datadir, as mariadbd does; collects its output. */
function startJoiner(f: Fixture): { child: Child; stdout: () => string; stderr: () => string } {
  const child = denoAdapter.spawn({
    cmd: LAUNCHER,
    args: joinerArgv({ address: f.address, joiner: f.joiner, donor: f.donor }),
    cwd: f.joiner.datadir,
    env: { WSREP_SST_OPT_AUTH: "" },
    stdout: "piped",
    stderr: "piped",
    group: true,
  });
  let out = "";
  let err = "";
  void (async () => {
    for await (const c of child.stdout!.pipeThrough(new TextDecoderStream())) out += c;
  })();
  void (async () => {
    for await (const c of child.stderr!.pipeThrough(new TextDecoderStream())) err += c;
  })();
  return { child, stdout: () => out, stderr: () => err };
}

Deno.test("lock wait: an SST SIGTERMed while another SST holds its datadir's lock exits 3 at once, not 114 after the wait", async () => {
  await withFixture({}, async (f) => {
    const problems: string[] = [];
    const lockFile = `${f.joiner.layout.datadir}/wsrep_sst.pid`;
    const holder = startJoiner(f);
    try {
      const ready = await pollUntil(() => holder.stdout().startsWith("ready "), 30_000, 50);
      assertEquals(ready, true, `the first joiner never got ready: ${holder.stderr()}`);
      const waiter = startJoiner(f);
      // It logs its version line, then waits for the lock; let it be well inside that wait.
      await pollUntil(() => / joiner \(/.test(waiter.stderr()), 30_000, 50);
      await new Promise((r) => setTimeout(r, 1500));
      const sentAt = Date.now();
      Deno.kill(waiter.child.pid, "SIGTERM");
      const status = await waiter.child.status;
      const secs = (Date.now() - sentAt) / 1000;
      if (status.code !== INTERRUPTED) {
        problems.push(`exit ${status.code}, want ${INTERRUPTED}: ${waiter.stderr()}`);
      }
      if (secs >= PROMPT_SECS) problems.push(`ended ${secs.toFixed(1)} s after SIGTERM`);
      if (!/\[ERROR\].*received SIGTERM/.test(waiter.stderr())) {
        problems.push(`no [ERROR] naming the signal: ${waiter.stderr()}`);
      }
      const owner = Deno.readTextFileSync(lockFile).split("\n")[0];
      if (owner !== String(holder.child.pid)) problems.push(`lock file now names ${owner}`);
      if (waiter.stdout() !== "") problems.push(`protocol lines: ${waiter.stdout()}`);
    } finally {
      await stop(holder.child, 5000);
    }
    const procs = await waitNoProcesses(f.root, 3000);
    const files = filesLeftBehind(f);
    const name = "SIGTERM while waiting for another SST's instance lock";
    const ok = problems.length === 0 && procs.length === 0 && files.length === 0;
    record({ kind: "fault", name, ok, detail: [...problems, ...files].join("; ") || undefined });
    recordCount("orphans", name, procs.length, procs.join("; ") || undefined);
    assertEquals(problems, [], "unexpected outcome");
    assertEquals(procs, [], "no helper process may outlive the SSTs");
    assertEquals(files, [], "private and run files must be removed");
  });
});
