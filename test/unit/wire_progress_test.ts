/**
 * Unit tests for the opt-in wire keys (src/config/wire_options.ts: `[sst] compress`,
 * `compress-level`, `bwlimit`) and the donor's progress meter (src/transfer/progress.ts).
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import {
  describeWire,
  isCapped,
  parseCompressList,
  rsyncWireOptions,
  wireFrom,
} from "../../src/config/wire_options.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { formatDuration, progressLine, TransferProgress } from "../../src/transfer/progress.ts";
import {
  globToRegExp,
  selectionOptions,
  SNAPSHOT_EXCLUDE,
  TreeWalk,
} from "../../src/transfer/selection.ts";

async function sst(lines: string[]): Promise<OptionLookup> {
  const dir = await Deno.makeTempDir({ prefix: "wire-unit-" });
  try {
    await Deno.writeTextFile(`${dir}/my.cnf`, `[sst]\n${lines.join("\n")}\n`);
    return await OptionLookup.load({ defaultsFile: `${dir}/my.cnf`, env: {} });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function rejects(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    assert(re.test(e.message), `message ${JSON.stringify(e.message)} should match ${re}`);
    return;
  }
  throw new Error(`expected a ConfigError matching ${re}`);
}

Deno.test("wire: off by default, no rsync option", async () => {
  const w = wireFrom(await sst([]));
  assertEquals(w, { compress: null, compressLevel: undefined, bwlimitKiB: 0 });
  assertEquals(rsyncWireOptions(w), []);
  assertEquals(isCapped(w), false);
  assertEquals(describeWire(w), null);
});

Deno.test("wire: zstd with a level and a cap: every rsync gets the whole cap, since a capped pass runs one at a time", async () => {
  const w = wireFrom(await sst(["compress = ZSTD", "compress-level = 3", "bwlimit = 100M"]));
  assertEquals(w, { compress: "zstd", compressLevel: 3, bwlimitKiB: 102400 });
  assertEquals(rsyncWireOptions(w), [
    "--compress",
    "--compress-choice=zstd",
    "--compress-level=3",
    "--bwlimit=102400",
  ]);
  assertEquals(isCapped(w), true);
  assertEquals(describeWire(w), "compression zstd level 3, bandwidth cap 100.0 MiB/s");
});

Deno.test("wire: lz4, KiB/s without unit, off spelled several ways", async () => {
  assertEquals(wireFrom(await sst(["compress=lz4", "bwlimit=512"])).bwlimitKiB, 512);
  assertEquals(rsyncWireOptions(wireFrom(await sst(["compress=lz4"]))), [
    "--compress",
    "--compress-choice=lz4",
  ]);
  for (const off of ["off", "none", "0", "no"]) {
    assertEquals(wireFrom(await sst([`compress=${off}`, "bwlimit=0"])).compress, null);
  }
  assertEquals(rsyncWireOptions(wireFrom(await sst(["bwlimit=3K"]))), ["--bwlimit=3"]);
});

Deno.test("wire: bad values are refused naming the key and the fix", async () => {
  const cases: [string[], RegExp][] = [
    [["compress=gzip"], /\[sst\] compress=gzip .*zstd.*lz4.*off/],
    [
      ["compress=lz4", "compress-level=3"],
      /compress-level=3 .*needs compress=zstd.*lz4 has no levels/,
    ],
    [["compress-level=3"], /needs compress=zstd \(compression is off\)/],
    [["compress=zstd", "compress-level=20"], /integer from 1 .* to 19/],
    [["compress=zstd", "compress-level=-1"], /integer from 1/],
    [["bwlimit=fast"], /bwlimit=fast .*KiB\/s.*K, M or G/],
    [["bwlimit=10 M"], /bwlimit=10 M /],
    [["bwlimit=0.1"], /below 1 KiB\/s/],
  ];
  for (const [lines, re] of cases) {
    const opts = await sst(lines);
    rejects(() => wireFrom(opts), re);
  }
});

Deno.test("wire: the compress list of rsync --version", () => {
  const v = "Checksum list:\n    xxh128 md5\nCompress list:\n    zstd lz4 zlibx zlib none\n";
  assertEquals(parseCompressList(v), ["zstd", "lz4", "zlibx", "zlib", "none"]);
  assertEquals(parseCompressList("rsync  version 3.1.3  protocol version 31\n"), null);
});

Deno.test("progress: line format, percent, rate and ETA", () => {
  assertEquals(
    progressLine(512 * 1048576, 1024 * 1048576, 4),
    "copied 512.0 MiB of 1.00 GiB (50 %), 128 MiB/s, ETA 4 s",
  );
  assertEquals(
    progressLine(2048, 2048, 1),
    "copied 2.0 KiB of 2.0 KiB (100 %), 0 MiB/s, ETA 0 s",
  );
  assertEquals(formatDuration(185), "3 min 5 s");
  assertEquals(formatDuration(3725), "1 h 02 min");
  assertEquals(formatDuration(Infinity), "unknown");
});

Deno.test("progress: at most one report per interval, finished senders keep their bytes", () => {
  let now = 0;
  const io = new Map<number, number | null>([[10, 0], [11, 0]]);
  const info: string[] = [];
  const proto: string[] = [];
  const m = new TransferProgress(1000, {
    info: (l) => info.push(l),
    protocol: (l) => proto.push(l),
    readBytes: (pid) => io.get(pid) ?? null,
    now: () => now,
    intervalMs: 10_000,
  });
  m.track(10);
  m.track(11);
  io.set(10, 300);
  now = 5_000;
  m.tick(); // too early
  assertEquals(info, []);
  io.set(10, 400);
  io.set(11, 100);
  now = 10_000;
  m.tick();
  io.set(10, null); // sender 10 exited: its 400 bytes still count
  io.set(11, 200);
  now = 15_000;
  m.tick(); // too early again
  now = 20_000;
  m.tick();
  m.finish();
  assertEquals(info.length, 3);
  assert(info[0].startsWith("copied 500 B of 1000 B (50 %)"), info[0]);
  assert(info[1].startsWith("copied 600 B of 1000 B (60 %)"), info[1]);
  assert(info[2].startsWith("copied 1000 B of 1000 B (100 %)"), info[2]);
  assertEquals(proto, ["total 1000", "complete 500", "complete 600", "complete 1000"]);
  assert(proto.every((l) => l.length <= 127), "donor protocol lines fit mariadbd's buffer");
});

Deno.test("progress: without --progress no protocol line is produced", () => {
  const info: string[] = [];
  const m = new TransferProgress(10, { info: (l) => info.push(l), readBytes: () => null });
  m.finish();
  assertEquals(info.length, 1);
});

Deno.test("selection: the bytes of a job come from its selection: matching top-level files, whole trees through links, listed files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jobbytes-unit-" });
  try {
    await Deno.writeFile(`${dir}/ibdata1`, new Uint8Array(100));
    await Deno.writeFile(`${dir}/ib_logfile0`, new Uint8Array(7));
    await Deno.mkdir(`${dir}/db/sub`, { recursive: true });
    await Deno.writeFile(`${dir}/db/t.ibd`, new Uint8Array(30));
    await Deno.writeFile(`${dir}/db/sub/x`, new Uint8Array(5));
    await Deno.mkdir(`${dir}/elsewhere`);
    await Deno.writeFile(`${dir}/elsewhere/big`, new Uint8Array(1000));
    await Deno.symlink(`${dir}/elsewhere/big`, `${dir}/db/linked.MYD`);
    const walk = new TreeWalk();
    assertEquals(await walk.bytes({ kind: "matching", patterns: ["ibdata*"] }, [`${dir}/`]), 100);
    assertEquals(await walk.bytes({ kind: "trees" }, [`${dir}/db`]), 1035);
    assertEquals(await walk.bytes({ kind: "files" }, [`${dir}/ib_logfile0`]), 7);
    assertEquals(await walk.bytes({ kind: "directories", excludes: [] }, [`${dir}/`]), 0);
    assertEquals(walk.problems, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("selection: a link to nothing and a directory link to its own parent are reported, not followed forever", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jobbytes-unit-" });
  try {
    await Deno.mkdir(`${dir}/db`);
    await Deno.symlink(`${dir}/gone`, `${dir}/db/t.MYD`);
    await Deno.symlink(dir, `${dir}/db/up`);
    const walk = new TreeWalk();
    assertEquals(await walk.bytes({ kind: "trees" }, [`${dir}/db`]), 0);
    assertEquals(walk.problems.map((p) => [p.path.slice(dir.length), p.why]).sort(), [
      ["/db/t.MYD", "dangling"],
      ["/db/up/db", "loop"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("selection: one glob dialect: * and ? never cross '/', everything else is literal", () => {
  const re = globToRegExp("aria_log.*");
  assertEquals(
    ["aria_log.00000001", "aria_log.", "aria_logX1", "aria_log.1/x"].map((n) => re.test(n)),
    [
      true,
      true,
      false,
      false,
    ],
  );
  assertEquals(globToRegExp("undo?").test("undo1"), true);
  assertEquals(globToRegExp("undo?").test("undo12"), false);
});

Deno.test("selection: the rsync filters of a job are built from the same selection; snapshot directories never, at any depth", () => {
  assertEquals(selectionOptions({ kind: "matching", patterns: ["ibdata*"] }), [
    "--recursive",
    SNAPSHOT_EXCLUDE,
    "--exclude=/*/",
    "--include=/ibdata*",
    "--exclude=**",
  ]);
  assertEquals(selectionOptions({ kind: "directories", excludes: ["lost+found"] }), [
    "--dirs",
    SNAPSHOT_EXCLUDE,
    "--exclude=/lost+found",
    "--include=/*/",
    "--exclude=/*",
  ]);
  assertEquals(selectionOptions({ kind: "trees" }), ["--recursive", SNAPSHOT_EXCLUDE]);
  assertEquals(SNAPSHOT_EXCLUDE, "--exclude=[#]sql-wsrep_sst_snapshot.*/");
  assertEquals(selectionOptions({ kind: "files" }), []);
});
