/**
 * No copy that cannot fit (issue 27 item 3), over loopback: the joiner's datadir is a tmpfs too
 * small for the donor's data set. The donor learns the joiner's free space through the tunnel
 * before it asks mariadbd to lock anything, and both sides fail with exit 28 (ENOSPC) and one
 * ERROR line naming the file system, the bytes needed and free, and the fix; nothing of the
 * data set reaches the joiner. A joiner that can hold the copy is told so in one INFO line.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst } from "../../scripts/lib/sst_driver.ts";
import {
  assertNothingLeft,
  leftovers,
  mountTmpfs,
  withFixture,
} from "../../scripts/lib/fixture.ts";
import { record } from "../../scripts/lib/ledger.ts";
import { ExitCode } from "../../src/core/errors.ts";

const MB = 1024 * 1024;
const lines = (stderr: string, level: string) =>
  stderr.split("\n").filter((l) => l.startsWith(`WSREP_SST: [${level}]`));

Deno.test("joiner space: a joiner datadir on an 8 MiB tmpfs for a 32 MiB table: both sides exit 28 before `flush tables`, naming the file system, the bytes needed and free, and the fix; nothing is sent", () =>
  withFixture({ bigTableBytes: 32 * MB }, async (f) => {
    const datadir = f.joiner.layout.datadir;
    const unmount = await mountTmpfs(datadir, 8);
    const mariadbd = new Deno.Command("sleep", { args: ["300"] }).spawn();
    let r;
    try {
      r = await driveSst({
        address: f.address,
        joiner: f.joiner,
        donor: f.donor,
        parent: mariadbd.pid,
        timeoutMs: 60_000,
        onDonorFailure: async (joiner) => {
          mariadbd.kill("SIGKILL");
          await joiner.status;
        },
      });
    } finally {
      try {
        mariadbd.kill("SIGKILL");
      } catch { /* gone */ }
      await mariadbd.status;
      const left = leftovers(datadir).filter((n) => !n.startsWith("sst_"));
      await unmount();
      assertEquals(left, [], "nothing of the donor's data set reached the joiner");
    }
    const d = r.donor!;
    const dErrors = lines(d.stderr, "ERROR");
    const jErrors = lines(r.joiner.stderr, "ERROR");
    const ok = d.code === ExitCode.noSpace && r.joiner.code === ExitCode.noSpace &&
      d.lines.length === 0 && dErrors.length === 1 && jErrors.length === 1;
    record({
      kind: "fault",
      name: "joiner file system too small for the copy: refused before the lock, exit 28 on both",
      ok,
      detail: `donor exit ${d.code}, joiner exit ${r.joiner.code}, donor lines ${d.lines}`,
    });
    assertEquals(d.code, ExitCode.noSpace, d.stderr);
    assertEquals(d.lines, [], "the donor stops before `flush tables`");
    assert(!/locked pass|pre-copy:/.test(d.stderr), d.stderr);
    assertEquals(dErrors.length, 1, d.stderr);
    const figures = new RegExp(
      `the joiner cannot hold this copy: its file system ${datadir} \\(datadir=${datadir}, ` +
        `[^)]*\\) needs [\\d.]+ MiB \\((\\d+) bytes\\) and has [\\d.]+ [KM]iB \\((\\d+) bytes\\) ` +
        "free; free [\\d.]+ MiB there or move those directories to a larger file system on the " +
        "joiner, then restart it; nothing was locked or sent",
    );
    const m = dErrors[0].match(figures);
    assert(m, dErrors[0]);
    assert(Number(m[1]) > 32 * MB && Number(m[2]) <= 8 * MB, dErrors[0]);
    assertEquals(r.joiner.code, ExitCode.noSpace, r.joiner.stderr);
    assertEquals(r.joiner.lines.length, 1, "the joiner prints no final line");
    assertEquals(jErrors.length, 1, r.joiner.stderr);
    assertMatch(jErrors[0], /the donor refused this SST: the joiner cannot hold this copy: /);
    assertMatch(jErrors[0], figures);
    assertNothingLeft(f, "an SST refused for the joiner's free space");
  }));

Deno.test("joiner space: a joiner that can hold the copy is told so with the figures, and the SST proceeds", () =>
  withFixture({}, async (f) => {
    const r = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertMatch(r.donor!.stderr, /\[INFO\] the joiner can hold this copy: \/\S*: [\d.]+ \w+ of/);
  }));
