/**
 * Unit tests for the opt-in wire keys (src/config/wire_options.ts: `[sst] compress`,
 * `compress-level`, `bwlimit`) and the donor's progress meter (src/transfer/progress.ts).
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import {
  describeWire,
  isCapped,
  parseCompressList,
  rsyncWireOptions,
  wireFrom,
} from "../../src/config/wire_options.ts";
import { ConfigError } from "../../src/core/errors.ts";
import {
  formatDuration,
  progressLine,
  ReceiveProgress,
  TransferProgress,
} from "../../src/transfer/progress.ts";
import {
  parsePhaseNotice,
  type PhaseNotice,
  renderPhaseNotice,
} from "../../src/transfer/phase_notice.ts";
import { DonorTotals, joinerTotalsLine } from "../../src/transfer/sst_totals.ts";
import { ReceivedBytes } from "../../src/transfer/received_bytes.ts";
import { SstError } from "../../src/core/errors.ts";
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
    "copied 2.0 KiB of 2.0 KiB (100 %), 0.0 MiB/s, ETA 0 s",
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

const MiB = 1048576;

Deno.test("progress: the donor's lines name their phase, and a delta pass says compared, not copied", () => {
  assertEquals(
    progressLine(281 * MiB, 281 * MiB, 0.5, { phase: "locked delta pass", verb: "compared" }),
    "locked delta pass: compared 281.0 MiB of 281.0 MiB (100 %), 562 MiB/s, ETA 0 s",
  );
  const info: string[] = [];
  let now = 0;
  const m = new TransferProgress(100 * MiB, {
    info: (l) => info.push(l),
    readBytes: () => 40 * MiB,
    now: () => now,
    label: { phase: "hot pre-copy", verb: "copied" },
  });
  m.track(1);
  now = 10_000;
  m.tick();
  m.finish();
  assertEquals(info, [
    "hot pre-copy: copied 40.0 MiB of 100.0 MiB (40 %), 4.0 MiB/s, ETA 15 s",
    "hot pre-copy: copied 100.0 MiB of 100.0 MiB (100 %), 10 MiB/s, ETA 0 s",
  ]);
});

Deno.test("progress: the joiner logs what it receives at the donor's rhythm, per announced pass, with an ETA only for whole files", () => {
  let now = 0;
  const info: string[] = [];
  const p = new ReceiveProgress({ info: (l) => info.push(l), now: () => now });
  now = 10_000;
  p.tick(0);
  now = 12_000;
  p.announce(null, 0);
  p.announce({ phase: "hot pre-copy", total: 100 * MiB, delta: false }, 0);
  p.announce({ phase: "hot pre-copy", total: 100 * MiB, delta: false }, 5 * MiB); // same notice
  now = 15_000;
  p.tick(10 * MiB); // too early: 10 s after the last line
  now = 22_000;
  p.tick(50 * MiB);
  now = 32_000;
  p.tick(100 * MiB + 1); // the donor waits for the lock
  p.announce({ phase: "locked delta pass", total: 100 * MiB, delta: true }, 100 * MiB);
  now = 42_000;
  p.tick(100 * MiB + 80 * 1024);
  p.finish(100 * MiB + 80 * 1024);
  assertEquals(info, [
    "waiting for the donor to send data (10 s so far)",
    "hot pre-copy: the donor sends 100.0 MiB (whole files)",
    "hot pre-copy: received 50.0 MiB of 100.0 MiB (50 %), 5.0 MiB/s, ETA 10 s",
    "hot pre-copy: received all 100.0 MiB; waiting for the donor's next pass or its " +
    "completion record",
    "hot pre-copy: done (100.0 MiB received, whole files)",
    "locked delta pass: the donor compares 100.0 MiB with this node's files and sends only " +
    "the blocks that differ",
    "locked delta pass: received 80.0 KiB, 0.0 MiB/s (only the blocks that differ, out of " +
    "100.0 MiB compared: no ETA)",
    "locked delta pass: done (100.0 MiB compared, only the blocks that differ received)",
  ]);
  assertEquals(p.phases, ["hot pre-copy", "locked delta pass"]);
});

Deno.test("progress: without the donor's notice (an older donor) the joiner says the total is unknown", () => {
  let now = 0;
  const info: string[] = [];
  const p = new ReceiveProgress({ info: (l) => info.push(l), now: () => now });
  now = 10_000;
  p.tick(20 * MiB);
  p.finish(30 * MiB);
  assertEquals(info, [
    "received 20.0 MiB of an unknown total (the donor does not announce its passes), 2.0 MiB/s",
    "received 30.0 MiB of an unknown total (the donor does not announce its passes), 3.0 MiB/s",
  ]);
});

Deno.test("phase notice: read back as written; anything else is ignored", () => {
  const n: PhaseNotice = { phase: "locked pass", total: 68969324, delta: false };
  assertEquals(parsePhaseNotice(renderPhaseNotice(n)), n);
  const d: PhaseNotice = { phase: "locked delta pass", total: 0, delta: true };
  assertEquals(parsePhaseNotice(renderPhaseNotice(d)), d);
  for (
    const bad of [
      "",
      renderPhaseNotice(n).replace("phase 1", "phase 2"),
      renderPhaseNotice(n).replace("locked pass", "rm -rf"),
      renderPhaseNotice(n).replace("68969324", "-1"),
      renderPhaseNotice(n).replace("68969324", "1e9"),
      renderPhaseNotice(n).replace("delta 0", "delta yes"),
      renderPhaseNotice(n) + "x".repeat(300),
    ]
  ) assertEquals(parsePhaseNotice(bad), null, JSON.stringify(bad));
});

Deno.test("totals: the donor's line has duration, passes with their mechanism, bytes read and sent, rate and the blocked time", () => {
  let now = 0;
  const t = new DonorTotals(() => now);
  t.passEnded({
    phase: "hot pre-copy",
    delta: false,
    read: 100 * MiB,
    sent: 100 * MiB,
    seconds: 1,
    ok: true,
  });
  now = 2000;
  t.locked();
  now = 2500;
  t.passEnded({
    phase: "locked delta pass",
    delta: true,
    read: 100 * MiB,
    sent: 79 * 1024,
    seconds: 0.5,
    ok: true,
  });
  assertEquals(t.unlocked(), 0.5);
  now = 3000;
  assertEquals(
    t.line(null),
    "SST totals on donor: complete in 3.0 s; passes: hot pre-copy (whole files, copied " +
      "100.0 MiB, sent 100.0 MiB), locked delta pass (delta, compared 100.0 MiB, sent 79.0 KiB); " +
      "read 200.0 MiB, sent 100.1 MiB, 133 MiB/s; donor writes blocked for 0.5 s",
  );
});

Deno.test("totals: a donor that fails under the lock says how long writes were blocked until the failure", () => {
  let now = 0;
  const t = new DonorTotals(() => now);
  assertMatch(
    t.line(new SstError(32, "x")),
    /failed \(exit 32\) after 0\.0 s; no data pass; donor writes never blocked \(failed before the lock\)$/,
  );
  now = 1000;
  t.locked();
  now = 5200;
  t.passEnded({
    phase: "locked pass",
    delta: false,
    read: 30 * MiB,
    sent: 30 * MiB,
    seconds: 4.2,
    ok: false,
  });
  assertEquals(
    t.line(new SstError(71, "x")),
    "SST totals on donor: failed (exit 71) after 5.2 s; passes: locked pass (whole files, " +
      "copied 30.0 MiB, sent 30.0 MiB, failed); read 30.0 MiB, sent 30.0 MiB, 7.1 MiB/s; donor " +
      "writes blocked for 4.2 s until the failure",
  );
  assertEquals(
    joinerTotalsLine({ error: null, seconds: 4, received: 40 * MiB, phases: ["locked pass"] }),
    "SST totals on joiner: complete in 4.0 s; received 40.0 MiB, 10 MiB/s; passes the donor " +
      "announced: locked pass",
  );
  assertMatch(
    joinerTotalsLine({ error: new SstError(3, "x"), seconds: 1, received: 0, phases: [] }),
    /^SST totals on joiner: failed \(exit 3\) after 1\.0 s; received 0 B, .*; the donor announced no pass$/,
  );
});

Deno.test("received bytes: ended sessions count what the daemon log says, running ones their receiver's reads (whole files only), never going down", async () => {
  const dir = await Deno.makeTempDir({ prefix: "received-unit-" });
  try {
    const log = `${dir}/rsyncd.log`;
    await Deno.writeTextFile(log, "2026/12/07 07:50:48 [13490] connect from UNKNOWN (0.0.0.0)\n");
    let live = new Map([[13490, 1000], [13491, 500]]);
    const c = new ReceivedBytes(log, () => live);
    assertEquals(await c.count(), 1500);
    await Deno.writeTextFile(
      log,
      "2026/12/07 07:50:49 [13490] sent 40 bytes  received 3,000,827 bytes  total size 3000000\n" +
        "2026/12/07 07:50:49 [13491] rsync error: some error (code 23)",
      { append: true },
    );
    live = new Map([[13492, 9_000_000]]);
    assertEquals(await c.count(false), 3000827 + 500, "a delta pass's reads are not sampled");
    assertEquals(await c.count(), 3000827 + 500 + 9_000_000);
    live = new Map();
    await Deno.writeTextFile(
      log,
      "\n2026/12/07 07:50:50 [13492] sent 40 bytes  received 100 bytes  total size 3000000\n",
      { append: true },
    );
    assertEquals(await c.count(), 3000827 + 500 + 9_000_000, "never goes down");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
