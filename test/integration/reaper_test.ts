/**
 * Issue 23 item 11: the reaper of the next SST trusts no process-group number. A joiner's
 * datadir holds the lock file of a dead SST naming two process groups: one holds an `rsync`
 * started with that run's id (a real leftover: killed), the other an `rsync` without it (the
 * group number now belongs to something else, e.g. a cron rsync: it survives). The SST itself
 * runs as usual. Real processes (copies of `sleep` named rsync), real socat and rsync.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { driveSst } from "../../scripts/lib/sst_driver.ts";
import { pollUntil, withFixture } from "../../scripts/lib/fixture.ts";
import { isAlive, processGroupOf } from "../../src/proc/liveness.ts";
import { RUN_ID_ENV } from "../../src/proc/process.ts";
import { record } from "../../scripts/lib/ledger.ts";

const DEAD_RUN = "00112233445566778899aabbccddeeff";

/** One `rsync` (a copy of sleep) in a new session whose leader exited; optional run id. */
async function strayRsync(
  dir: string,
  run: string | null,
): Promise<{ pid: number; group: number }> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile("/usr/bin/sleep", `${dir}/rsync`);
  const out = await new Deno.Command("setsid", {
    args: ["sh", "-c", '"$0/rsync" 300 >/dev/null 2>&1 & echo $!', dir],
    stdout: "piped",
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin", ...(run ? { [RUN_ID_ENV]: run } : {}) },
  }).output();
  const pid = Number(new TextDecoder().decode(out.stdout).trim());
  return { pid, group: processGroupOf(pid)! };
}

Deno.test("reaper: the next SST kills the dead run's own leftover rsync but not an rsync that only sits in a recorded process group", () =>
  withFixture({}, async (f) => {
    const ours = await strayRsync(`${f.root}/stray-ours`, DEAD_RUN);
    const stranger = await strayRsync(`${f.root}/stray-other`, null);
    try {
      await Deno.writeTextFile(
        `${f.joiner.layout.datadir}/wsrep_sst.pid`,
        `999999999\nstarted 0\nrun ${DEAD_RUN}\ngroup ${ours.group}\ngroup ${stranger.group}\n`,
      );
      const r = await driveSst({
        address: f.address,
        joiner: f.joiner,
        donor: f.donor,
        timeoutMs: 60_000,
      });
      const killed = await pollUntil(() => !isAlive(ours.pid), 5000, 50);
      const survived = isAlive(stranger.pid);
      record({
        kind: "fault",
        name: "reused process group recorded by a dead SST",
        ok: r.joiner.code === 0 && killed && survived,
        detail: `leftover killed: ${killed}, stranger alive: ${survived}`,
      });
      assertEquals(r.joiner.code, 0, r.joiner.stderr);
      assertEquals(r.donor?.code, 0, r.donor?.stderr);
      assert(killed, `the dead run's rsync ${ours.pid} still runs:\n${r.joiner.stderr}`);
      assert(survived, `rsync ${stranger.pid} without the run id was killed:\n${r.joiner.stderr}`);
    } finally {
      for (const p of [ours.pid, stranger.pid]) {
        try {
          Deno.kill(p, "SIGKILL");
        } catch { /* gone */ }
      }
    }
  }));
