/**
 * A dead SST's leftovers: the next SST on the datadir kills every socat and rsync of the dead
 * holder's process groups that carries the dead run's id, also when the group's leader is gone
 * (socat's listener dies with the joiner, the connections it forked do not), and nothing else:
 * not a process without the id (a group number reused by a cron rsync or another instance), not
 * one of another user, not one started before the holder. Real processes: copies of `sleep`
 * named `rsync` and `sleep`, in a group whose leader has exited; and the decision itself on
 * procfs-like facts.
 */
import { assert, assertEquals } from "../support/assert.ts";
import {
  acquireInstanceLock,
  type Holder,
  isLeftover,
  leftoversOf,
  type ProcessFacts,
} from "../../src/sst/instance_lock.ts";
import { RUN_ID_ENV } from "../../src/proc/process.ts";
import { Scope } from "../../src/sst/scope.ts";
import { isAlive, processGroupOf, processStartTime } from "../../src/proc/liveness.ts";
import { pollUntil } from "../../scripts/lib/fixture.ts";

/** A process group whose leader has exited, with one member per name in `names`. */
async function orphanedGroup(
  dir: string,
  names: string[],
  run: string | null = RUN,
): Promise<{ group: number; pids: number[] }> {
  for (const n of names) await Deno.copyFile("/usr/bin/sleep", `${dir}/${n}`);
  await Deno.chmod(dir, 0o700);
  const script = names.map((n) => `"$0/${n}" 300 >/dev/null 2>&1 & echo $!`).join("; ");
  const out = await new Deno.Command("setsid", {
    args: ["sh", "-c", script, dir],
    stdout: "piped",
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...(run ? { [RUN_ID_ENV]: run } : {}) },
  }).output();
  const pids = new TextDecoder().decode(out.stdout).trim().split("\n").map(Number);
  const group = processGroupOf(pids[0])!;
  assert(!isAlive(group), "the group's leader must be gone");
  return { group, pids };
}

/** The run id of the dead holder in these tests. */
const RUN = "0123456789abcdef0123456789abcdef";

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
      await Deno.writeTextFile(
        `${dir}/wsrep_sst.pid`,
        `999999999\nstarted 0\nrun ${RUN}\ngroup ${group}\n`,
      );
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
      const dead = { pid: 999999999, run: RUN, groups: [group] };
      assertEquals(leftoversOf({ ...dead, started: later }), []);
      assertEquals(leftoversOf({ ...dead, started: "0" }), [rsync]);
    } finally {
      Deno.kill(rsync, "SIGKILL");
    }
  });
});

Deno.test("lock: an rsync in a recorded group without the dead run's id (a reused group: a cron rsync, another instance's SST) survives; the one with the id is killed", async () => {
  await withDir(async (dir) => {
    const ours = await orphanedGroup(dir, ["rsync"]);
    const sub = `${dir}/other`;
    await Deno.mkdir(sub);
    const stranger = await orphanedGroup(sub, ["rsync"], null);
    const strangerOtherRun = await orphanedGroup(sub, ["socat"], "f".repeat(32));
    const all = [...ours.pids, ...stranger.pids, ...strangerOtherRun.pids];
    try {
      const groups = [ours.group, stranger.group, strangerOtherRun.group];
      await Deno.writeTextFile(
        `${dir}/wsrep_sst.pid`,
        `999999999\nstarted 0\nrun ${RUN}\n${groups.map((g) => `group ${g}`).join("\n")}\n`,
      );
      const scope = new Scope();
      await acquireInstanceLock(dir, scope, 1);
      assert(await pollUntil(() => !isAlive(ours.pids[0]), 2000, 20), "our leftover still runs");
      assert(isAlive(stranger.pids[0]), "an rsync without the run id was killed");
      assert(isAlive(strangerOtherRun.pids[0]), "a socat of another run was killed");
      assertEquals(await scope.close(), []);
    } finally {
      for (const p of all) {
        try {
          Deno.kill(p, "SIGKILL");
        } catch { /* gone */ }
      }
    }
  });
});

Deno.test("lock: the leftover decision needs the run id, our user, a helper's name and a start after the holder; an old holder file without run id proves nothing", () => {
  const holder: Holder = { pid: 10, started: "1000", run: RUN, groups: [77] };
  const p: ProcessFacts = { pid: 11, comm: "rsync", started: "1500", uid: 27, run: RUN };
  assertEquals(isLeftover(holder, p, 27), true);
  assertEquals(isLeftover(holder, { ...p, comm: "socat" }, 27), true);
  assertEquals(isLeftover(holder, { ...p, run: null }, 27), false, "no id (or unreadable)");
  assertEquals(isLeftover(holder, { ...p, run: "f".repeat(32) }, 27), false, "another run");
  assertEquals(isLeftover(holder, { ...p, uid: 0 }, 27), false, "another user");
  assertEquals(isLeftover(holder, { ...p, uid: null }, 27), false, "gone");
  assertEquals(isLeftover(holder, { ...p, started: "999" }, 27), false, "started before");
  assertEquals(isLeftover(holder, { ...p, comm: "mariadbd" }, 27), false, "not a helper");
  assertEquals(isLeftover({ ...holder, run: undefined }, p, 27), false, "old holder file");
  assertEquals(isLeftover({ ...holder, started: undefined }, { ...p, started: "1" }, 27), true);
});
