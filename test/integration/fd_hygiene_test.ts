/**
 * mariadbd leaks descriptors (its stdout pipe, error log, grastate.dat) into the SST script.
 * Ours marks them close-on-exec at start, so no helper it starts inherits them.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { joinerArgv, LAUNCHER } from "../../scripts/lib/sst_driver.ts";
import { makeFixture, processesMentioning } from "../../scripts/lib/fixture.ts";
import { denoAdapter, settlesWithin, stop } from "../../src/proc/process.ts";

function descriptorsPointingAt(pid: number, path: string): number {
  let n = 0;
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      if (Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`) === path) n++;
    } catch { /* closed meanwhile */ }
  }
  return n;
}

Deno.test("a descriptor leaked by mariadbd reaches neither socat nor rsync, and SIGTERM exits 3 cleanly", async () => {
  const f = await makeFixture();
  const leaked = `${f.root}/leaked-grastate.dat`;
  await Deno.writeTextFile(leaked, "");
  // Like mariadbd: the script starts with an extra descriptor open, without close-on-exec.
  const child = denoAdapter.spawn({
    cmd: "sh",
    args: [
      "-c",
      'exec 7>>"$1"; shift; exec "$@"',
      "sh",
      leaked,
      LAUNCHER,
      ...joinerArgv({ address: f.address, joiner: f.joiner, donor: f.donor }),
    ],
    cwd: f.joiner.datadir,
    stdout: "piped",
    stderr: "piped",
    group: true,
  });
  try {
    const reader = child.stdout!.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader.read();
    assert(first.value?.startsWith("ready "), `expected ready, got ${first.value}`);
    assertEquals(descriptorsPointingAt(child.pid, leaked), 1, "the script itself holds it");
    const helpers = processesMentioning(f.root).map((l) => Number(l.split(":")[0]))
      .filter((pid) => pid !== child.pid);
    assert(helpers.length > 0, "socat listener must be running");
    for (const pid of helpers) assertEquals(descriptorsPointingAt(pid, leaked), 0, `pid ${pid}`);
    child.kill("SIGTERM");
    assert(await settlesWithin(child.status, 10_000), "must exit promptly on SIGTERM");
    assertEquals((await child.status).code, 3);
    reader.releaseLock();
    await new Response(child.stderr!).text();
    assertEquals(processesMentioning(f.root), []);
    assertEquals([...Deno.readDirSync(f.joiner.tmpdir)], []);
  } finally {
    await stop(child, 1000);
    await f.cleanup();
  }
});

Deno.test("SIGUSR1 (rsync's stop signal for its remote shell) opens no debugger port: the joiner stops with exit 3", async () => {
  const f = await makeFixture();
  const child = denoAdapter.spawn({
    cmd: LAUNCHER,
    args: joinerArgv({ address: f.address, joiner: f.joiner, donor: f.donor }),
    cwd: f.joiner.datadir,
    stdout: "piped",
    stderr: "piped",
    group: true,
  });
  try {
    const reader = child.stdout!.pipeThrough(new TextDecoderStream()).getReader();
    assert((await reader.read()).value?.startsWith("ready "));
    Deno.kill(child.pid, "SIGUSR1");
    assert(await settlesWithin(child.status, 10_000), "must stop promptly on SIGUSR1");
    assertEquals((await child.status).code, 3);
    reader.releaseLock();
    const stderr = await new Response(child.stderr!).text();
    assert(!/Debugger listening/.test(stderr), stderr);
    assertEquals(processesMentioning(f.root), []);
  } finally {
    await stop(child, 1000);
    await f.cleanup();
  }
});
