/**
 * Delta re-joins over loopback (issue 15 item 6): a joiner that still holds an older copy of the
 * donor's data set, with a few 16 KiB pages changed on the donor since, receives only what
 * changed when the donor uses delta transfer (`[sst] delta=on`, or `auto` when run as
 * `wsrep_sst_rsync_tunnel_wan`), and about the whole data set with whole files (`delta=off`, or
 * `auto` as `wsrep_sst_rsync_tunnel`). The bytes are rsync's own count ("sent N bytes"), as the
 * donor logs them per pass; after every run the joiner's files equal the donor's.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst, LAUNCHER, type SideResult } from "../../scripts/lib/sst_driver.ts";
import {
  type Fixture,
  processesMentioning,
  setSst,
  withFixture,
} from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { WAN_NAME } from "../../src/core/program_name.ts";

const WAN_LAUNCHER = LAUNCHER.replace(/[^/]+$/, WAN_NAME);
const PAGE = 16384;

/** Overwrites `pages` 16 KiB pages of `file` (page numbers) with fresh random bytes. */
async function changePages(file: string, pages: readonly number[]): Promise<void> {
  const f = await Deno.open(file, { write: true });
  try {
    for (const p of pages) {
      await f.seek(p * PAGE, Deno.SeekMode.Start);
      const data = crypto.getRandomValues(new Uint8Array(PAGE));
      for (let n = 0; n < data.length;) n += await f.write(data.subarray(n));
    }
  } finally {
    f.close();
  }
}

/** Changes 8 pages on the donor (6 of the big table, 2 of ibdata1): 128 KiB. */
async function changeSomePages(f: Fixture, round: number): Promise<number> {
  const dd = f.donor.layout.datadir;
  await changePages(`${dd}/shop/orders.ibd`, [3, 100, 101, 200 + round, 300, 511]);
  await changePages(`${dd}/ibdata1`, [0, 10 + round]);
  return 8 * PAGE;
}

/** Bytes of the files an SST delivers from the donor's datadir. */
async function dataBytes(f: Fixture): Promise<number> {
  const dd = f.donor.layout.datadir;
  let n = 0;
  for (const rel of (await treeDigest(dd, isTransferredDatadirFile)).keys()) {
    n += (await Deno.stat(`${dd}/${rel}`)).size;
  }
  return n;
}

/** The locked pass's log line: its name and the bytes rsync sent. */
function lockedPass(donor: SideResult): { name: string; sent: number } {
  const m = donor.stderr.match(
    /\] (locked(?: delta)? pass): (?:compared|copied) [^,]+, sent [^(]+\((\d+) bytes\) in [\d.]+ s/,
  );
  assert(m, `no locked-pass line in\n${donor.stderr}`);
  return { name: m[1], sent: Number(m[2]) };
}

/** One SST between `f`'s nodes with `program`; both sides must succeed, the copies equal. */
async function rejoin(f: Fixture, program: string): Promise<SideResult> {
  const r = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor, program });
  assertEquals(r.joiner.code, 0, r.joiner.stderr);
  assertEquals(r.donor?.code, 0, r.donor?.stderr);
  assertEquals(
    diffDigests(
      await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
      await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
    ),
    [],
    "the joiner's files equal the donor's",
  );
  const log = r.donor!.stderr;
  assert(!/\[WARNING\] rsync:/.test(log), `rsync output logged as a warning:\n${log}`);
  return r.donor!;
}

Deno.test("delta re-join: a joiner holding an older copy receives only the changed pages with delta=on and as rsync_tunnel_wan, the whole data set with delta=off; its files equal the donor's each time", async () => {
  await withFixture({ bigTableBytes: 8 * 1024 * 1024 }, async (f) => {
    const total = await dataBytes(f);
    assert(total > 9 * 1024 * 1024, `sample data set of ${total} bytes`);

    // The older copy: a first SST into the empty joiner (default: whole files).
    const first = lockedPass(await rejoin(f, LAUNCHER));
    assertEquals(first.name, "locked pass");
    assert(first.sent >= total, `first SST sent ${first.sent} of ${total} bytes`);

    // delta=on: only the changed pages (plus rsync's block tokens and file lists) travel.
    const changed = await changeSomePages(f, 1);
    await setSst(f.donor, { delta: "on" });
    const on = await rejoin(f, LAUNCHER);
    assertMatch(
      on.stderr,
      /delta transfer on \(\[sst\] delta=on\): every pass sends only the blocks that differ/,
    );
    assertMatch(on.stderr, /--no-whole-file --block-size=16384/);
    const delta = lockedPass(on);
    assertEquals(delta.name, "locked delta pass");
    assert(
      delta.sent >= changed,
      `delta=on sent ${delta.sent} bytes, below the changed ${changed}`,
    );
    assert(delta.sent < total / 10, `delta=on sent ${delta.sent} of ${total} bytes`);

    // auto, run as wsrep_sst_rsync_tunnel_wan: the same.
    await changeSomePages(f, 2);
    await setSst(f.donor, { delta: null });
    const wan = await rejoin(f, WAN_LAUNCHER);
    assertMatch(
      wan.stderr,
      /delta transfer on \(\[sst\] delta=auto, invoked as wsrep_sst_rsync_tunnel_wan\)/,
    );
    const auto = lockedPass(wan);
    assertEquals(auto.name, "locked delta pass");
    assert(auto.sent < total / 10, `wan sent ${auto.sent} of ${total} bytes`);

    // delta=off, even as the wan name: whole files, about the data set.
    await changeSomePages(f, 3);
    await setSst(f.donor, { delta: "off" });
    const off = await rejoin(f, WAN_LAUNCHER);
    assertMatch(off.stderr, /delta transfer off \(\[sst\] delta=off\): whole files/);
    assert(/--whole-file/.test(off.stderr) && !/--no-whole-file/.test(off.stderr), "whole files");
    const whole = lockedPass(off);
    assertEquals(whole.name, "locked pass");
    assert(
      whole.sent >= total && whole.sent < total * 1.1,
      `delta=off sent ${whole.sent} of ${total} bytes`,
    );
    assertEquals(processesMentioning(f.root), [], "no helper process may outlive the SSTs");
  });
});

Deno.test("delta=auto as wsrep_sst_rsync_tunnel (the defaults): whole files into an empty joiner, delta transfer onto its earlier copy, each choice and its reason in one INFO line", async () => {
  await withFixture({ bigTableBytes: 8 * 1024 * 1024 }, async (f) => {
    const total = await dataBytes(f);
    // The lines without the timestamp the log appends.
    const choice = (log: string) =>
      log.split("\n").filter((l) => /\[INFO\] delta transfer /.test(l)).map((l) =>
        l.replace(/ \(\d{8} [\d:.]+\)$/, "")
      );

    const first = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
    assertEquals(first.donor?.code, 0, first.donor?.stderr);
    assertMatch(first.joiner.lines[0], /\/rsync_tunnel_sst\/1(\/mariadb-[\d.]+)?\/nocopy$/);
    assertMatch(first.joiner.stderr, /\[INFO\] this node holds no earlier copy/);
    assertEquals(choice(first.donor!.stderr), [
      "WSREP_SST: [INFO] delta transfer off ([sst] delta=auto: the joiner holds no earlier " +
      "copy): whole files",
    ]);
    const whole = lockedPass(first.donor!);
    assertEquals(whole.name, "locked pass");
    assert(whole.sent >= total, `first SST sent ${whole.sent} of ${total} bytes`);

    await changeSomePages(f, 1);
    const again = await rejoin(f, LAUNCHER);
    const mib = Math.floor(total / 1024 ** 2);
    assertMatch(
      choice(again.stderr).join("\n"),
      new RegExp(
        String.raw`^WSREP_SST: \[INFO\] delta transfer on \(\[sst\] delta=auto: the joiner holds ` +
          String.raw`an earlier copy, (${mib}|${mib + 1}|${
            mib - 1
          }) MiB\): every pass sends only the ` +
          "blocks that differ from the joiner's files$",
      ),
    );
    const delta = lockedPass(again);
    assertEquals(delta.name, "locked delta pass");
    assert(delta.sent < total / 10, `delta sent ${delta.sent} of ${total} bytes`);
    assertEquals(processesMentioning(f.root), [], "no helper process may outlive the SSTs");
  });
});

/** Writes 64 random bytes into each of `pages` of `file`, 4,196 bytes into the page. */
async function changeInsidePages(file: string, pages: readonly number[]): Promise<void> {
  const f = await Deno.open(file, { write: true });
  try {
    for (const p of pages) {
      await f.seek(p * PAGE + 4196, Deno.SeekMode.Start);
      await f.write(crypto.getRandomValues(new Uint8Array(64)));
    }
  } finally {
    f.close();
  }
}

Deno.test("delta re-join: a few bytes changed inside 16 pages of the system tablespace cost less than one page each (its delta blocks are finer than a page)", async () => {
  await withFixture({}, async (f) => {
    await rejoin(f, LAUNCHER);
    const pages = Array.from({ length: 16 }, (_, i) => 3 + i * 4);
    await changeInsidePages(`${f.donor.layout.innodbDataHomeDir}/ibdata1`, pages);
    await setSst(f.donor, { delta: "on" });
    const { sent } = lockedPass(await rejoin(f, LAUNCHER));
    // With page-sized blocks every changed page travels whole: at least 16 × 16 KiB.
    assert(sent > 16 * 64, `sent ${sent} bytes, below the changed ${16 * 64}`);
    assert(sent < 16 * PAGE / 2, `sent ${sent} bytes for 16 × 64 changed bytes`);
  });
});
