/**
 * `bench:stall`'s parsing: `--data cold:hot,…`, the split of the lock our donor logs (the
 * columns of the table under `--load sysbench`) and its line naming slow clones.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { throws } from "node:assert/strict";
import { parseDataSets } from "../../scripts/bench/options.ts";
import { lockSplit, slowClones } from "../../scripts/bench/join.ts";
import { slowClonesLine } from "../../src/transfer/clone_pass.ts";
import { cloneSummary } from "../../src/transfer/snapshot_dir.ts";
import { notedGaps } from "../../scripts/bench/writer.ts";
import { gapPhase } from "../../scripts/bench/stall_split.ts";
import { pickMethods } from "../../scripts/bench/methods.ts";

Deno.test("--data: cold:hot sizes in the order given; a set without hot, or with a third field, is refused", () => {
  assertEquals(parseDataSets("1G:1G,0:4G"), [
    { coldMiB: 1024, hotMiB: 1024 },
    { coldMiB: 0, hotMiB: 4096 },
  ]);
  assertEquals(parseDataSets("0:96M"), [{ coldMiB: 0, hotMiB: 96 }]);
  throws(() => parseDataSets("1G"), { message: new RegExp("cold:hot") });
  throws(() => parseDataSets("1G:1G:1G"), { message: new RegExp("cold:hot") });
  throws(() => parseDataSets("1G:0"), { message: new RegExp("at least 16M") });
});

Deno.test("lock split: clones and no locked pass (XFS, btrfs)", () => {
  const clones = cloneSummary({ seconds: 0.081, cloned: Array(12), uncloned: [], bytes: 0n });
  const log = "WSREP_SST: [INFO] clone pass (from the clones): copied 96.0 MiB, sent 96.1 MiB " +
    "(100773888 bytes) in 1.2 s\n" +
    `WSREP_SST: [INFO] donor writes blocked for 0.41 s (mariadbd's flush 0.30 s, ${clones})\n`;
  assertEquals(lockSplit(log), {
    blocked: 0.41,
    flush: 0.30,
    clones: 0.08,
    cloneFiles: 12,
    lockedPass: NaN,
    lockedPassLine: null,
  });
});

Deno.test("lock split: the locked pass and what it compared and sent (ext4, clone=off); the last lock line counts", () => {
  const log = [
    "WSREP_SST: [INFO] hot pre-copy (the server takes writes): copied 1.10 GiB, sent 1.10 GiB " +
    "(1181116006 bytes) in 9.0 s",
    "WSREP_SST: [INFO] locked delta pass: compared 1.14 GiB, sent 96.4 MiB (101082726 bytes) " +
    "in 1.8 s",
    "WSREP_SST: [INFO] donor writes blocked for 2.10 s (mariadbd's flush 0.25 s, locked pass " +
    "1.85 s)",
    "WSREP_SST: [INFO] SST totals on donor: complete in 12.0 s; donor writes blocked for 2.10 s " +
    "(mariadbd's flush 0.25 s, locked pass 1.85 s)",
  ].join("\n");
  assertEquals(lockSplit(log), {
    blocked: 2.1,
    flush: 0.25,
    clones: NaN,
    cloneFiles: NaN,
    lockedPass: 1.85,
    lockedPassLine: "compared 1.14 GiB, sent 96.4 MiB in 1.8 s",
  });
  assertEquals(lockSplit("WSREP_SST: [INFO] stock rsync said nothing of the kind"), null);
});

Deno.test("writer's stops: only gaps of 0.15 s or more are kept, placed in boot time, and each falls before, during or after the donor's script", () => {
  // Commits at 0, 50, 100 ms, then a 600 ms stop, then 700 and 1000 ms (a 300 ms stop).
  const gaps = notedGaps([0, 50, 100, 700, 750, 1050], 1000);
  assertEquals(gaps.map((g) => [Number(g.at.toFixed(3)), Number(g.seconds.toFixed(3))]), [
    [1000.1, 0.6],
    [1000.75, 0.3],
  ]);
  const span = { start: 1000.5, end: 1000.7 };
  assertEquals(gaps.map((g) => gapPhase(g, span)), ["sst", "after"]);
  assertEquals(gapPhase({ at: 999, seconds: 0.5 }, span), "before");
  assertEquals(gapPhase({ at: 1000.25, seconds: 0.25 }, span), "before");
});

Deno.test("slow clones: the bench shows the donor's last line naming them, read as the donor writes it", () => {
  const file = (rel: string, seconds: number) => ({
    part: "datadir",
    rel,
    path: `/snap/${rel}`,
    source: `/var/lib/mysql/${rel}`,
    size: 0n,
    seconds,
  });
  const line = (seconds: number) =>
    slowClonesLine(
      { seconds, cloned: [file("sbtest/sbtest1.ibd", seconds)], uncloned: [], bytes: 0n },
      () => 4242,
    )!;
  const log = [
    `WSREP_SST: [INFO] ${line(0.2)}`,
    "WSREP_SST: [INFO] donor writes blocked for 0.41 s (mariadbd's flush 0.30 s, clones …)",
    `WSREP_SST: [INFO] ${line(0.35)}`,
    "WSREP_SST: [INFO] SST complete on donor",
  ].join("\n");
  assertEquals(slowClones(log), line(0.35));
  assertEquals(slowClones("WSREP_SST: [INFO] donor writes blocked for 0.05 s"), null);
});

Deno.test("methods: one whose stock script runs a program that is not installed is refused before the bench starts, naming the package", () => {
  const none = () => false;
  throws(() => pickMethods(["plain", "mariabackup"], [], none), {
    message:
      /'mariabackup' runs mariadb-backup, which is not installed: apt-get install mariadb-backup/,
  });
  throws(() => pickMethods(["stunnel"], [], none), { message: /apt-get install stunnel4/ });
  assertEquals(pickMethods(["plain", "tunnel"], ["x:precopy=on"], none).map((m) => m.key), [
    "plain",
    "tunnel",
    "tunnel-x",
  ]);
  assertEquals(pickMethods(["mariabackup"], [], (p) => p === "mariadb-backup").length, 1);
});
