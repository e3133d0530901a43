/**
 * The free-space guard of the clones (src/transfer/space_guard.ts) on a real loop-mounted XFS:
 * no clone below the floor, and the watcher aborts before a writer (the server, in production)
 * takes free space below it.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { withLoopFs } from "../../scripts/lib/loop_fs.ts";
import { ExitCode } from "../../src/core/errors.ts";
import { statFs } from "../../src/proc/statfs.ts";
import { sleep } from "../../src/proc/wait.ts";
import {
  checkFloor,
  CloneSpaceError,
  floorOf,
  watchSpace,
} from "../../src/transfer/space_guard.ts";

const MIB = 1024 ** 2;

Deno.test("the floor is the larger of 5 % and 1 GiB", () => {
  assertEquals(floorOf(10 * 1024 ** 3), 1024 ** 3);
  assertEquals(floorOf(100 * 1024 ** 3), 5 * 1024 ** 3);
});

Deno.test("space guard: no clone below the floor; the error names the file system, free and needed bytes and the fix", async () => {
  await withLoopFs("xfs", 320, (fs) => {
    const available = statFs(fs.dir)!.available;
    const label = `${fs.dir} (xfs)`;
    assertEquals(
      checkFloor({ path: fs.dir, label }, { fraction: 0, minBytes: 8 * MIB }).floor,
      8 * MIB,
    );
    let caught: unknown;
    try {
      checkFloor({ path: fs.dir, label }, { fraction: 0, minBytes: available + 64 * MIB });
    } catch (e) {
      caught = e;
    }
    assert(caught instanceof CloneSpaceError, String(caught));
    assertEquals(caught.exitCode, ExitCode.noSpace);
    for (const part of [label, "MiB free", "free 64.0 MiB there", "[sst] clone=off"]) {
      assert(caught.message.includes(part), `${part} in: ${caught.message}`);
    }
    return Promise.resolve();
  });
});

Deno.test("space guard: the watcher aborts before a writer filling the file system crosses the floor", async () => {
  await withLoopFs("xfs", 320, async (fs) => {
    const start = statFs(fs.dir)!.available;
    const floor = start - 48 * MIB;
    const watch = watchSpace([{ path: fs.dir, label: `${fs.dir} (xfs)` }], {
      policy: { fraction: 0, minBytes: floor },
      everyMs: 20,
    });
    let written = 0;
    const f = await Deno.open(`${fs.dir}/filler`, { create: true, write: true });
    try {
      const chunk = new Uint8Array(MIB).fill(7);
      while (!watch.signal.aborted && written < 200) {
        await f.write(chunk);
        await f.syncData();
        written++;
        await sleep(10);
      }
    } finally {
      f.close();
      await watch.stop();
    }
    const reason = watch.signal.reason;
    assert(reason instanceof CloneSpaceError, `the watcher fired: ${String(reason)}`);
    assert(reason.available >= floor, `fired at ${reason.available}, floor ${floor}`);
    assert(written < 48, `the writer was stopped after ${written} MiB`);
    assert(reason.message.includes(`${fs.dir} (xfs)`) && reason.message.includes("clones"));
  });
});

Deno.test("space guard: a watcher stopped before space runs low never fires", async () => {
  await withLoopFs("xfs", 320, async (fs) => {
    const watch = watchSpace([{ path: fs.dir, label: fs.dir }], {
      policy: { fraction: 0, minBytes: MIB },
      everyMs: 10,
    });
    await sleep(60);
    await watch.stop();
    assertEquals(watch.signal.aborted, false);
  });
});
