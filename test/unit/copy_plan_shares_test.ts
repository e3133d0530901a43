/**
 * When the donor's plan sends one schema directory in shares (src/transfer/copy_plan.ts, over
 * passes.ts `shareSchema`): real (sparse) files, real settings from an option file.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { donorSettings } from "../support/donor_settings.ts";
import { planCopy } from "../../src/transfer/copy_plan.ts";
import { TreeWalk } from "../../src/transfer/selection.ts";

const MiB = 1024 * 1024;

/** Plans the copy of a datadir holding `big` (`tables` × `mib` MiB, sparse) with `sst` lines. */
async function plan(sst: string[], tables: number, mib: number) {
  const dd = await Deno.makeTempDir({ prefix: "copy-plan-shares-" });
  try {
    await Deno.mkdir(`${dd}/big`);
    await Deno.mkdir(`${dd}/mysql`);
    await Deno.writeFile(`${dd}/mysql/user.MAD`, new Uint8Array(8192));
    for (let i = 1; i <= tables; i++) {
      await Deno.writeFile(`${dd}/big/t${i}.ibd`, new Uint8Array(0));
      await Deno.truncate(`${dd}/big/t${i}.ibd`, mib * MiB);
    }
    const cnf = `${dd}/my.cnf`;
    await Deno.writeTextFile(cnf, `[sst]\n${sst.join("\n")}\n`);
    const settings = await donorSettings(dd, cnf);
    const p = await planCopy(settings, new TreeWalk(), false);
    return p.jobs.filter((s) => s.job.sources.some((src) => src.startsWith(`${dd}/big`)))
      .map((s) => ({ kind: s.job.selection.kind, path: s.job.path, bytes: s.bytes / MiB }));
  } finally {
    await Deno.remove(dd, { recursive: true });
  }
}

Deno.test("copy plan: a schema with most of the data goes in one share per stream; under a bandwidth cap, with one stream or when small, it stays one job", async () => {
  const shared = await plan(["backup-threads=2"], 4, 40);
  assertEquals(shared, [
    { kind: "trees", path: undefined, bytes: 80 },
    { kind: "files", path: "big/", bytes: 80 },
  ]);
  const kinds = (jobs: { kind: string; path?: string }[]) => jobs.map((j) => j.kind);
  assertEquals(kinds(await plan(["backup-threads=2", "bwlimit=10M"], 4, 40)), ["trees"], "capped");
  assertEquals(kinds(await plan(["backup-threads=1"], 4, 40)), ["trees"], "one stream");
  const small = await plan(["backup-threads=2"], 4, 8);
  assertEquals(small.length, 1, "32 MiB: under 32 MiB a stream");
  assert(small[0].kind === "trees");
});
