/**
 * The pre-copy record (src/transfer/precopy_record.ts) must see every way a server changes a
 * file after the hot pass read it, or the locked pass would skip a changed file and the joiner
 * would be silently corrupt. Each write path InnoDB, Aria and the binary log use is driven
 * through real system calls (test/support/write_paths.c): buffered pwrite (Aria, the binary
 * log, InnoDB without native AIO), O_DIRECT (InnoDB's data files), Linux AIO and io_uring
 * (InnoDB's native AIO, whichever the server was built with), hole punching (page
 * compression), truncation, a store whose old times are put back, a rebuilt file renamed over
 * the old one, and a store through a shared mapping whose page is already dirty (which changes
 * no time at all: the record must see the mapping). Every file starts as a file the record
 * vouches for (written long ago, sent whole by a clean hot pass): the control proves it.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { PrecopyRecord, UNCHANGED_MARGIN_MS } from "../../src/transfer/precopy_record.ts";
import type { RsyncJob } from "../../src/transfer/passes.ts";
import { TreeWalk } from "../../src/transfer/selection.ts";

const SOURCE = new URL("../support/write_paths.c", import.meta.url).pathname;

async function compile(dir: string): Promise<string> {
  const exe = `${dir}/write_paths`;
  const r = await new Deno.Command("cc", { args: ["-O1", "-Wall", "-o", exe, SOURCE] }).output();
  if (!r.success) throw new Error(`cc failed: ${new TextDecoder().decode(r.stderr)}`);
  return exe;
}

/** A directory on a disk file system (O_DIRECT needs one; /tmp may be tmpfs). */
async function diskDir(): Promise<string> {
  return await Deno.makeTempDir({ dir: "/var/tmp", prefix: "write_paths_" });
}

/** A 64 KiB file last written long before the record is taken. */
async function oldFile(path: string): Promise<void> {
  await Deno.writeFile(path, crypto.getRandomValues(new Uint8Array(65536)));
  const old = new Date(Date.now() - 2 * UNCHANGED_MARGIN_MS);
  await Deno.utime(path, old, old);
}

function treesJob(dir: string): RsyncJob {
  return {
    label: "test",
    selection: { kind: "trees" },
    options: [],
    sources: [dir],
    module: "m",
  };
}

/** Takes the record of `dir` as the hot pass would, as if that pass ended cleanly. */
async function hotPass(dir: string): Promise<PrecopyRecord> {
  const job = treesJob(dir);
  const record = await PrecopyRecord.take(new TreeWalk(), [job]);
  record.ended(job);
  // Past the file system's timestamp granularity, as any real pass is.
  await new Promise((r) => setTimeout(r, 30));
  return record;
}

/** Whether the record still vouches for `path` (stat'ed now, as under the lock). */
async function vouched(record: PrecopyRecord, dir: string, path: string): Promise<boolean> {
  const files = await new TreeWalk().files({ kind: "trees" }, [dir]);
  const f = files.find((x) => x.path === path);
  if (!f) throw new Error(`${path} is not listed`);
  const mapped = new Set<string>();
  return record.vouchesFor(f, mapped);
}

async function runHelper(exe: string, mode: string, file: string): Promise<void> {
  const r = await new Deno.Command(exe, { args: [mode, file] }).output();
  assertEquals(r.code, 0, `${mode}: ${new TextDecoder().decode(r.stderr)}`);
}

const MODES = [
  "pwrite",
  "odirect",
  "libaio",
  "uring",
  "punch",
  "truncate",
  "restored",
  "renamed",
];

Deno.test("pre-copy record: a file nobody touched since the hot pass is vouched for (the control)", async () => {
  const dir = await diskDir();
  try {
    await oldFile(`${dir}/t.ibd`);
    const record = await hotPass(dir);
    assert(await vouched(record, dir, `${dir}/t.ibd`), "an untouched old file is vouched for");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pre-copy record: an untouched file whose hot-pass rsync did not exit 0 (a file beside it shrank or vanished: exit 23) is compared, not skipped", async () => {
  const dir = await diskDir();
  try {
    await oldFile(`${dir}/t.ibd`);
    // The runner tolerates such an rsync in the hot pass but never reports its job as ended
    // (test/unit/rsync_failures_test.ts), so the record is taken and never told it ended.
    const record = await PrecopyRecord.take(new TreeWalk(), [treesJob(dir)]);
    await new Promise((r) => setTimeout(r, 30));
    assert(!await vouched(record, dir, `${dir}/t.ibd`), "vouched for a file of a failed rsync");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const mode of MODES) {
  Deno.test(`pre-copy record: a file changed by ${mode} after the hot pass is compared, not skipped`, async () => {
    const dir = await diskDir();
    try {
      const exe = await compile(dir);
      const file = `${dir}/data/t.ibd`;
      await Deno.mkdir(`${dir}/data`);
      await oldFile(file);
      const record = await hotPass(`${dir}/data`);
      await runHelper(exe, mode, file);
      assert(!(await vouched(record, `${dir}/data`, file)), `${mode} went unseen`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("pre-copy record: stores through a shared writable mapping change no time, and the mapping makes the file compared", async () => {
  const dir = await diskDir();
  const exe = await compile(dir);
  const file = `${dir}/data/aria_log.00000001`;
  await Deno.mkdir(`${dir}/data`);
  await oldFile(file);
  const child = new Deno.Command(exe, {
    args: ["mmap", file],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stdin = child.stdin.getWriter();
  try {
    assertEquals((await lines.read()).value?.trim(), "dirty");
    // The page was dirtied long ago, as far as the record can tell.
    const old = new Date(Date.now() - 2 * UNCHANGED_MARGIN_MS);
    await Deno.utime(file, old, old);
    const before = await Deno.stat(file);
    const record = await hotPass(`${dir}/data`);
    await stdin.write(new TextEncoder().encode("go\n"));
    assertEquals((await lines.read()).value?.trim(), "again");
    const after = await Deno.stat(file);
    assertEquals(
      [after.mtime?.getTime(), after.ctime?.getTime(), after.size],
      [before.mtime?.getTime(), before.ctime?.getTime(), before.size],
      "the second store changed no time (so only the mapping can tell)",
    );
    const files = await new TreeWalk().files({ kind: "trees" }, [`${dir}/data`]);
    assert(record.mapped.has(String(before.ino)), "the record saw the mapping");
    assert(!record.vouchesFor(files[0], new Set()), "a mapped file is compared");
  } finally {
    await stdin.close();
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
