/**
 * A dead SST's leftovers: the next SST on the datadir kills every socat and rsync of the dead
 * holder's process groups, also when the group's leader is gone (socat's listener dies with the
 * joiner, the connections it forked do not), and nothing else. Real processes: copies of
 * `sleep` named `rsync` and `sleep`, in a group whose leader has exited.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { acquireInstanceLock, leftoversOf } from "../../src/sst/instance_lock.ts";
import { Scope } from "../../src/sst/scope.ts";
import { isAlive, processGroupOf, processStartTime } from "../../src/proc/liveness.ts";
import { pollUntil } from "../support/fixture.ts";

/** A process group whose leader has exited, with one member per name in `names`. */
async function orphanedGroup(
  dir: string,
  names: string[],
): Promise<{ group: number; pids: number[] }> {
  for (const n of names) await Deno.copyFile("/usr/bin/sleep", `${dir}/${n}`);
  await Deno.chmod(dir, 0o700);
  const script = names.map((n) => `"$0/${n}" 300 >/dev/null 2>&1 & echo $!`).join("; ");
  const out = await new Deno.Command("setsid", {
    args: ["sh", "-c", script, dir],
    stdout: "piped",
  }).output();
  const pids = new TextDecoder().decode(out.stdout).trim().split("\n").map(Number);
  const group = processGroupOf(pids[0])!;
  assert(!isAlive(group), "the group's leader must be gone");
  return { group, pids };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lock-unit-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("lock: a dead holder's rsync whose group leader is gone is killed before the lock is taken; a non-helper of the group is left alone", async () => {
  await withDir(async (dir) => {
    const { group, pids: [rsync, sleep] } = await orphanedGroup(dir, ["rsync", "sleep"]);
    try {
      await Deno.writeTextFile(`${dir}/wsrep_sst.pid`, `999999999\nstarted 0\ngroup ${group}\n`);
      const scope = new Scope();
      await acquireInstanceLock(dir, scope, 1);
      assert(await pollUntil(() => !isAlive(rsync), 2000, 20), "the leftover rsync still runs");
      assert(isAlive(sleep), "a process that is not socat or rsync was killed");
      assertEquals(await scope.close(), []);
    } finally {
      for (const p of [rsync, sleep]) {
        try {
          Deno.kill(p, "SIGKILL");
        } catch { /* gone */ }
      }
    }
  });
});

Deno.test("lock: a process in a recorded group that started before the holder (a reused group id) is not a leftover", async () => {
  await withDir(async (dir) => {
    const { group, pids: [rsync] } = await orphanedGroup(dir, ["rsync"]);
    try {
      const later = String(Number(processStartTime(rsync)) + 1000);
      assertEquals(leftoversOf({ pid: 999999999, started: later, groups: [group] }), []);
      assertEquals(leftoversOf({ pid: 999999999, started: "0", groups: [group] }), [rsync]);
    } finally {
      Deno.kill(rsync, "SIGKILL");
    }
  });
});
