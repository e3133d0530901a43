/**
 * The line that names slow clones after `continue` (src/transfer/clone_pass.ts
 * `slowClonesLine`): none while the clones took less than 0.1 s in all; else the three
 * slowest files, slowest first, each with its time and the pieces its clone is in (left out
 * where they cannot be counted), and where the README says what to do.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { SLOW_CLONES_SECONDS, slowClonesLine } from "../../src/transfer/clone_pass.ts";
import type { ClonedFile, CloneRun } from "../../src/transfer/snapshot_dir.ts";

function cloned(rel: string, seconds: number): ClonedFile {
  return {
    part: "datadir",
    rel,
    path: `/var/lib/mysql/#sql-wsrep_sst_snapshot.1/datadir/${rel}`,
    source: `/var/lib/mysql/${rel}`,
    size: 1n << 30n,
    seconds,
  };
}

function run(seconds: number, files: ClonedFile[]): CloneRun {
  return { cloned: files, uncloned: [], bytes: 0n, seconds };
}

const files = [
  cloned("db/cold.ibd", 0.001),
  cloned("sbtest/sbtest1.ibd", 0.12),
  cloned("sbtest/sbtest2.ibd", 0.31),
  cloned("sbtest/sbtest3.ibd", 0.05),
  cloned("sbtest/sbtest4.ibd", 0.2),
];
const pieces = (path: string) => path.endsWith("sbtest4.ibd") ? null : path.length * 100;

Deno.test("slow clones: no line while the clones took less than 0.1 s in all", () => {
  assertEquals(slowClonesLine(run(SLOW_CLONES_SECONDS - 0.001, files), pieces), null);
  assertEquals(slowClonesLine(run(0.5, []), pieces), null);
});

Deno.test("slow clones: the three slowest, slowest first, with their pieces where counted", () => {
  const line = slowClonesLine(run(0.69, files), pieces);
  const p = (rel: string) => cloned(rel, 0).path.length * 100;
  assertEquals(
    line,
    "clones took 0.69 s; slowest: " +
      `/var/lib/mysql/sbtest/sbtest2.ibd 0.31 s (${p("sbtest/sbtest2.ibd")} pieces), ` +
      "/var/lib/mysql/sbtest/sbtest4.ibd 0.20 s, " +
      `/var/lib/mysql/sbtest/sbtest1.ibd 0.12 s (${p("sbtest/sbtest1.ibd")} pieces): ` +
      "a clone costs per piece of its file on disk; " +
      'README "Clones and file fragments" says how to rebuild a table in few pieces',
  );
});

Deno.test("slow clones: the pieces are counted on the clones, not on the server's files", () => {
  const asked: string[] = [];
  slowClonesLine(run(0.69, files), (path) => {
    asked.push(path);
    return 1;
  });
  assertEquals(asked.length, 3);
  assert(asked.every((p) => p.includes("#sql-wsrep_sst_snapshot.")), asked.join(" "));
});
