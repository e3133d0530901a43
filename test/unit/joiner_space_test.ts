/**
 * The joiner's free space against what the donor will send (src/transfer/joiner_space.ts,
 * held_files.ts, proc/disk_free.ts): the report survives its file format, a file the joiner
 * holds needs only its growth, directories on one file system add up, the shortfall names the
 * file system, the bytes and the fix (exit 28), and what a joiner holds makes it an earlier copy
 * or not.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { throws as assertThrows } from "node:assert/strict";
import {
  parseSpace,
  renderSpace,
  spaceNeeds,
  spaceReport,
  spaceShortfall,
} from "../../src/transfer/joiner_space.ts";
import { Modules } from "../../src/transfer/rsyncd_config.ts";
import { parseDf } from "../../src/proc/disk_free.ts";
import { COPY_MIN_BYTES, copyOf, heldFiles } from "../../src/transfer/held_files.ts";
import { ExitCode } from "../../src/core/errors.ts";

const MiB = 1024 ** 2;
const DIRS = [
  { module: Modules.datadir, dir: "/data/mysql", option: "datadir" },
  { module: Modules.dataHome, dir: "/data/mysql", option: "innodb_data_home_dir" },
  { module: Modules.logDir, dir: "/redo", option: "innodb_log_group_home_dir" },
];
const FREE = [
  { dir: "/data/mysql", mount: "/data", free: 100 * MiB },
  { dir: "/data/mysql", mount: "/data", free: 100 * MiB },
  { dir: "/redo", mount: "/redo", free: 10 * MiB },
];

Deno.test("joiner space: the report round-trips; a file the joiner holds needs only its growth; directories on one file system add up", () => {
  const held = [
    { module: Modules.datadir, rel: "shop/orders.ibd", size: 60 * MiB, allocated: 60 * MiB },
    { module: Modules.dataHome, rel: "ibdata1", size: 12 * MiB, allocated: 12 * MiB },
  ];
  const report = parseSpace(renderSpace(spaceReport(DIRS, FREE, held)));
  const needs = spaceNeeds(report, [
    { module: Modules.datadir, rel: "shop/orders.ibd", size: 70 * MiB }, // grows by 10 MiB
    { module: Modules.datadir, rel: "shop/new.ibd", size: 20 * MiB + 1 }, // new: whole, in blocks
    { module: Modules.dataHome, rel: "ibdata1", size: 12 * MiB }, // held as large: nothing
    { module: Modules.logDir, rel: "ib_logfile0", size: 8 * MiB },
  ])!;
  assertEquals(needs, [
    {
      mount: "/data",
      dirs: ["datadir=/data/mysql", "innodb_data_home_dir=/data/mysql"],
      needed: 10 * MiB + 20 * MiB + 4096,
      free: 100 * MiB,
    },
    { mount: "/redo", dirs: ["innodb_log_group_home_dir=/redo"], needed: 8 * MiB, free: 10 * MiB },
  ]);
  assertEquals(spaceShortfall(needs), null);
});

Deno.test("joiner space: a file system that cannot hold its part is an exit-28 error naming it, its directories, the bytes needed and free, and the fix", () => {
  const report = spaceReport(DIRS, FREE, []);
  const e = spaceShortfall(
    spaceNeeds(report, [{ module: Modules.logDir, rel: "ib_logfile0", size: 96 * MiB }])!,
  );
  assert(e);
  assertEquals(e.exitCode, ExitCode.noSpace);
  assertMatch(
    e.message,
    /file system \/redo \(innodb_log_group_home_dir=\/redo\) needs 96\.0 MiB \(100663296 bytes\) and has 10\.0 MiB \(10485760 bytes\) free; free 86\.0 MiB there or move those directories to a larger file system/,
  );
});

Deno.test("joiner space: a joiner that could not measure its free space is not checked; a broken report is refused", () => {
  const report = parseSpace(renderSpace(spaceReport(DIRS, { error: "df: hung" }, [])));
  assertEquals(report.error, "df: hung");
  assertEquals(spaceNeeds(report, [{ module: Modules.datadir, rel: "a/b", size: 1 }]), null);
  const good = renderSpace(spaceReport(DIRS, FREE, []));
  for (
    const bad of [
      "not json",
      good.replace("space 1", "space 9"),
      good.replace('"free":104857600', '"free":-1'),
      JSON.stringify({ ...JSON.parse(good), held: { x: { y: "big" } } }),
    ]
  ) {
    assertThrows(() => parseSpace(bad));
  }
});

Deno.test("df's output: one line per directory after the header, mount points with spaces kept", () => {
  const out = "    Avail Mounted on\n  1048576 /\n123 /mnt/my disk\n";
  assertEquals(parseDf(out, ["/a", "/b"]), [
    { dir: "/a", mount: "/", free: 1048576 },
    { dir: "/b", mount: "/mnt/my disk", free: 123 },
  ]);
  assertEquals(parseDf(out, ["/a"]), null, "a line per directory");
  assertEquals(parseDf("Avail Mounted on\nx /\n", ["/a"]), null);
});

/** A datadir of the given files (relative path → bytes) under a temporary directory. */
async function withDatadir(
  files: Record<string, number>,
  body: (datadir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "held-" });
  try {
    for (const [rel, size] of Object.entries(files)) {
      const path = `${dir}/${rel}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(path, new Uint8Array(size));
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const layoutOf = (d: string) => ({
  datadir: d,
  innodbDataHomeDir: d,
  innodbLogGroupHomeDir: d,
  innodbUndoDirectory: d,
  ariaLogDirPath: d,
});

Deno.test("held files: an empty datadir and a fresh one (system schemas, system tablespace) hold no earlier copy; table files of the user's schemas (an old datadir, or what an interrupted SST left) do", async () => {
  await withDatadir({}, async (d) => {
    const h = await heldFiles(layoutOf(d));
    assertEquals(h.bytes, 0);
    assertEquals(copyOf(h), { kind: "none" });
  });
  const fresh = {
    "ibdata1": 12 * MiB,
    "ib_logfile0": 8 * MiB,
    "mysql/user.MAD": 2 * MiB,
    "performance_schema/db.opt": 60,
    "sys/sys_config.ibd": 96 * 1024,
    "test/db.opt": 60,
  };
  await withDatadir(fresh, async (d) => {
    const h = await heldFiles(layoutOf(d));
    assertEquals(h.userBytes, 0);
    assertEquals(copyOf(h), { kind: "none" });
    // Each file under the module and path the donor's copy of it takes.
    const ibdata = h.files.find((f) => f.rel === "ibdata1");
    assertEquals(ibdata?.module, Modules.dataHome);
    assertEquals(h.files.find((f) => f.rel === "mysql/user.MAD")?.module, Modules.datadir);
  });
  await withDatadir({ ...fresh, "shop/orders.ibd": COPY_MIN_BYTES }, async (d) => {
    const h = await heldFiles(layoutOf(d));
    assertEquals(h.userSchemas, ["shop"]);
    assertEquals(copyOf(h), { kind: "copy", mib: Math.floor(h.bytes / MiB) });
  });
  await withDatadir({ "shop/orders.ibd": COPY_MIN_BYTES - 1 }, async (d) => {
    assertEquals(copyOf(await heldFiles(layoutOf(d))), { kind: "none" });
  });
});
