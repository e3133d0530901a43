/**
 * The sweep of stale private directories: a directory is stale only when the process that made
 * it (PID and start time in its name) no longer runs — never judged by the owner's command line.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { makePrivateDir, ownPrefix, sweepStalePrivateDirs } from "../../src/sst/private_dir.ts";
import { processStartTime } from "../../src/proc/liveness.ts";
import { Scope } from "../../src/sst/scope.ts";

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "private-dir-test." });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const P = "wsrep_sst_rsync_tunnel.";

Deno.test("private dir names carry our PID and start time", async () => {
  await withTmp(async (tmp) => {
    const scope = new Scope();
    const d = await makePrivateDir(tmp, scope);
    assert(d.path.startsWith(`${tmp}/${ownPrefix()}`), d.path);
    assertMatch(ownPrefix(), new RegExp(`^${P}${Deno.pid}-${processStartTime(Deno.pid)}\\.$`));
    await scope.close();
  });
});

Deno.test("sweep keeps a live owner's directory whatever its command line, removes dead and reused-PID owners'", async () => {
  await withTmp(async (tmp) => {
    // A live process without "wsrep_sst" in its argv (a compiled binary, a launcher under
    // another name), a dead one, and the live PID with another start time (PID reuse).
    const live = new Deno.Command("sleep", { args: ["30"] }).spawn();
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    try {
      const started = processStartTime(live.pid)!;
      const names = {
        live: `${P}${live.pid}-${started}.abc123`,
        liveOldStyle: `${P}${live.pid}.abc123`,
        dead: `${P}${dead.pid}-${started}.abc123`,
        deadOldStyle: `${P}${dead.pid}.abc123`,
        reused: `${P}${live.pid}-1.abc123`,
        notOurs: `other.${dead.pid}.abc123`,
      };
      for (const n of Object.values(names)) await Deno.mkdir(`${tmp}/${n}`);
      await Deno.writeTextFile(`${tmp}/${names.dead}/rsyncd.secrets`, "x");
      const removed = (await sweepStalePrivateDirs(tmp)).map((p) => p.slice(tmp.length + 1));
      assertEquals(removed.sort(), [names.dead, names.deadOldStyle, names.reused].sort());
      const left: string[] = [];
      for await (const e of Deno.readDir(tmp)) left.push(e.name);
      assertEquals(left.sort(), [names.live, names.liveOldStyle, names.notOurs].sort());
    } finally {
      live.kill("SIGKILL");
      await live.status;
    }
  });
});
