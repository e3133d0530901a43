/**
 * `cloneFile` (src/proc/ficlone.ts) on real loop-mounted file systems: on XFS (`reflink=1`)
 * and btrfs a clone has its source's content, size, owner, group, mode and times and shares
 * its blocks (free space barely moves for 64 MiB, and a write to the source leaves the clone
 * as it was); where no clone is possible (ext4, another file system, a btrfs nodatacow file
 * into a directory that is not) the result says why and nothing is left behind. `extentCount`
 * counts a file's pieces as `filefrag` does, before and after writes fragment it.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { type LoopFsType, withLoopFs } from "../../scripts/lib/loop_fs.ts";
import { cloneFile, extentCount, fileMeta } from "../../src/proc/ficlone.ts";
import { statFs } from "../../src/proc/statfs.ts";

const MIB = 1024 ** 2;

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A file of `mib` MiB of random bytes, with an owner, mode and times no default gives. */
async function sourceFile(path: string, mib: number): Promise<void> {
  const f = await Deno.open(path, { create: true, write: true });
  const chunk = new Uint8Array(MIB);
  for (let i = 0; i < mib; i++) {
    crypto.getRandomValues(chunk.subarray(0, 65536));
    chunk.copyWithin(65536, 0, MIB - 65536);
    await f.write(chunk);
  }
  await f.syncData();
  f.close();
  await Deno.chown(path, 1234, 2345);
  await Deno.chmod(path, 0o640);
  await new Deno.Command("touch", {
    args: ["-d", "2021-03-04 05:06:07.123456789", path],
  }).output();
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

for (const type of ["xfs", "btrfs"] as LoopFsType[]) {
  Deno.test(`clone on ${type}: same content, size, owner, mode and times, sharing its blocks`, async () => {
    await withLoopFs(type, 256, async (fs) => {
      const src = `${fs.dir}/src.ibd`;
      const dst = `${fs.dir}/clone.ibd`;
      await sourceFile(src, 64);
      const sync = () => new Deno.Command("sync", { args: ["-f", fs.dir] }).output();
      await sync();
      const before = statFs(fs.dir)!.available;
      const r = cloneFile(src, dst);
      await sync();
      const after = statFs(fs.dir)!.available;
      assertEquals(r, { kind: "cloned", size: BigInt(64 * MIB) });
      assert(before - after < 4 * MIB, `a 64 MiB clone took ${(before - after) / MIB} MiB`);
      const [s, c] = [fileMeta(src), fileMeta(dst)];
      assertEquals(
        { mode: c.mode, uid: c.uid, gid: c.gid, size: c.size, mtime: c.mtime, atime: c.atime },
        { mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, mtime: s.mtime, atime: s.atime },
      );
      assertEquals(c.mode & 0o7777, 0o640);
      assertEquals([c.uid, c.gid], [1234, 2345]);
      assertEquals(c.mtime, { sec: BigInt(Date.UTC(2021, 2, 4, 5, 6, 7) / 1000), nsec: 123456789 });
      const digest = await sha256(src);
      assertEquals(await sha256(dst), digest);
      // Copy on write: the server writing its file leaves the clone as it was.
      const f = await Deno.open(src, { write: true });
      await f.write(new Uint8Array(MIB).fill(1));
      f.close();
      assertEquals(await sha256(dst), digest);
      assert((await sha256(src)) !== digest);
    });
  });
}

Deno.test("clone on ext4: cannot-clone (EOPNOTSUPP), no copy made, nothing left behind", async () => {
  await withLoopFs("ext4", 64, async (fs) => {
    const src = `${fs.dir}/src.ibd`;
    await sourceFile(src, 8);
    const before = statFs(fs.dir)!.available;
    const r = cloneFile(src, `${fs.dir}/clone.ibd`);
    assertEquals(r.kind, "cannot-clone");
    assertEquals(r.kind === "cannot-clone" && r.errno, "EOPNOTSUPP");
    assert(!exists(`${fs.dir}/clone.ibd`), "the failed clone's file was removed");
    assert(before - statFs(fs.dir)!.available < MIB, "no copy was written");
  });
});

Deno.test("clone across file systems: cannot-clone (EXDEV), nothing left behind", async () => {
  await withLoopFs("xfs", 320, async (xfs) => {
    await withLoopFs("btrfs", 128, async (btrfs) => {
      const src = `${xfs.dir}/src.ibd`;
      await sourceFile(src, 1);
      const r = cloneFile(src, `${btrfs.dir}/clone.ibd`);
      assertEquals(r.kind === "cannot-clone" && r.errno, "EXDEV");
      assert(!exists(`${btrfs.dir}/clone.ibd`));
    });
  });
});

Deno.test("clone of a btrfs nodatacow file into a directory without it: cannot-clone (EINVAL)", async () => {
  await withLoopFs("btrfs", 128, async (fs) => {
    await Deno.mkdir(`${fs.dir}/nocow`);
    await new Deno.Command("chattr", { args: ["+C", `${fs.dir}/nocow`] }).output();
    const src = `${fs.dir}/nocow/t.ibd`;
    await sourceFile(src, 1);
    const r = cloneFile(src, `${fs.dir}/clone.ibd`);
    assertEquals(r.kind === "cannot-clone" && r.errno, "EINVAL");
    assert(!exists(`${fs.dir}/clone.ibd`));
    // Into a nodatacow directory (a snapshot directory made inside it inherits the flag): fine.
    assertEquals(cloneFile(src, `${fs.dir}/nocow/clone.ibd`).kind, "cloned");
  });
});

/** `filefrag`'s count of `path`'s extents (e2fsprogs, the same ioctl read by another program). */
async function filefrag(path: string): Promise<number> {
  const out = await new Deno.Command("filefrag", { args: [path], stdout: "piped" }).output();
  const m = /(\d+) extents? found/.exec(new TextDecoder().decode(out.stdout));
  if (!m) throw new Error(`filefrag ${path}: no extent count`);
  return Number(m[1]);
}

/** Writes every other 4 KiB block of the first `blocks` blocks of `path`, synced each time. */
async function writeEveryOther(path: string, blocks: number): Promise<void> {
  const f = await Deno.open(path, { write: true });
  const block = new Uint8Array(4096).fill(7);
  for (let i = 0; i < blocks; i += 2) {
    await f.seek(i * 4096, Deno.SeekMode.Start);
    await f.write(block);
    await f.syncData();
  }
  f.close();
}

for (const type of ["xfs", "btrfs", "ext4"] as LoopFsType[]) {
  Deno.test(`extentCount on ${type}: filefrag's count, on a whole file and on one in pieces`, async () => {
    await withLoopFs(type, 256, async (fs) => {
      const src = `${fs.dir}/t.ibd`;
      await sourceFile(src, 8);
      const whole = extentCount(src);
      assertEquals(whole, await filefrag(src));
      // A clone shares every block: on XFS and btrfs each block written then goes elsewhere.
      if (type !== "ext4") assertEquals(cloneFile(src, `${fs.dir}/c.ibd`).kind, "cloned");
      await writeEveryOther(src, 256);
      const pieces = extentCount(src);
      assertEquals(pieces, await filefrag(src));
      if (type !== "ext4") assert(pieces! >= 100, `${pieces} pieces after 128 separate writes`);
    });
  });
}

Deno.test("extentCount of a file that does not exist: null", () => {
  assertEquals(extentCount("/nonexistent/t.ibd"), null);
});
