/**
 * `deno run -A scripts/bench/clone_delta.ts [xfs|btrfs] [MiB]` (root): would a clone made before
 * the lock, brought up to date under it, hold the lock for less than a full clone (issue 24)? A
 * micro-benchmark of one file on a loop image, not an SST.
 *
 * One file of `MiB` (default 512) written sequentially, then put in pieces as a hot table is
 * (three rounds of 8000 random 16 KiB O_DIRECT writes while a clone of it exists, fsync every
 * 64). Then it times, on that file:
 *
 * - `FICLONE` of the whole file: what the donor does under the lock today;
 * - `FS_IOC_FIEMAP` listing every extent, with and without `FIEMAP_FLAG_SYNC`;
 * - the alternative: a clone made first ("before the lock"), 400 more random writes (a few
 *   seconds of the server's), then, as it would run under the lock, both files' extents listed
 *   (`FIEMAP_FLAG_SYNC`), every extent of the file that the clone does not map the same way
 *   (logical offset, physical address, length, flags) cloned over it with `FICLONERANGE`, and
 *   the two files' contents compared (they must be equal).
 *
 * A block that both files still map is one shared block, whose content neither file system
 * lets either file change in place; so only the ranges mapped differently can differ.
 *
 * @module
 */

import { LOOP_FS_TYPES, type LoopFsType, makeLoopFs, must } from "../lib/loop_fs.ts";
import { cloneFile } from "../../src/proc/ficlone.ts";
import {
  libc,
  MiB,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  openFd,
  writeRandomPages,
  writeSequential,
} from "./direct_writes.ts";

/** `_IOWR('f', 11, struct fiemap)`. */
const FS_IOC_FIEMAP = 0xc020660bn;
/** `_IOW(0x94, 13, struct file_clone_range)`. */
const FICLONERANGE = 0x4020940dn;
const FIEMAP_FLAG_SYNC = 1;
const FIEMAP_EXTENT_LAST = 1;
const EXTENT_SIZE = 56;
const BATCH = 4096;

/** One extent as FIEMAP lists it. */
interface Extent {
  logical: bigint;
  physical: bigint;
  length: bigint;
  flags: number;
}

/** Every extent of `path`, in batches of {@link BATCH}. */
function extents(path: string, sync: boolean): Extent[] {
  const fd = openFd(path, O_RDONLY | O_CLOEXEC);
  const out: Extent[] = [];
  const buf = new Uint8Array(32 + EXTENT_SIZE * BATCH);
  const v = new DataView(buf.buffer);
  let start = 0n;
  try {
    for (;;) {
      buf.fill(0);
      v.setBigUint64(0, start, true);
      v.setBigUint64(8, 0xffffffffffffffffn, true);
      v.setUint32(16, sync ? FIEMAP_FLAG_SYNC : 0, true);
      v.setUint32(24, BATCH, true);
      if (libc.ioctl(fd, FS_IOC_FIEMAP, buf) !== 0) throw new Error(`FIEMAP ${path} failed`);
      const n = v.getUint32(20, true);
      let last = n === 0;
      for (let i = 0; i < n; i++) {
        const at = 32 + EXTENT_SIZE * i;
        const e = {
          logical: v.getBigUint64(at, true),
          physical: v.getBigUint64(at + 8, true),
          length: v.getBigUint64(at + 16, true),
          flags: v.getUint32(at + 40, true),
        };
        out.push(e);
        start = e.logical + e.length;
        if (e.flags & FIEMAP_EXTENT_LAST) last = true;
      }
      if (last) return out;
    }
  } finally {
    libc.close(fd);
  }
}

/** Clones `ranges` (offset, length) of `source` over the same ranges of `dest`. */
function cloneRanges(source: string, dest: string, ranges: readonly Extent[]): void {
  const src = openFd(source, O_RDONLY | O_CLOEXEC);
  const dst = openFd(dest, O_RDWR | O_CLOEXEC);
  const arg = new Uint8Array(32);
  const v = new DataView(arg.buffer);
  try {
    for (const r of ranges) {
      v.setBigInt64(0, BigInt(src), true);
      v.setBigUint64(8, r.logical, true);
      v.setBigUint64(16, r.length, true);
      v.setBigUint64(24, r.logical, true);
      if (libc.ioctl(dst, FICLONERANGE, arg) !== 0) throw new Error("FICLONERANGE failed");
    }
  } finally {
    libc.close(src);
    libc.close(dst);
  }
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function ms(f: () => void): number {
  const t = performance.now();
  f();
  return performance.now() - t;
}

const [fsArg = "btrfs", mibArg = "512"] = Deno.args;
if (!LOOP_FS_TYPES.includes(fsArg as LoopFsType) || fsArg === "ext4") {
  throw new Error("the file system is xfs or btrfs (ext4 does not clone)");
}
const bytes = Number(mibArg) * MiB;
const fs = await makeLoopFs(fsArg as LoopFsType, 6 * Number(mibArg) + 512);
try {
  const file = `${fs.dir}/t.ibd`;
  writeSequential(file, bytes);
  for (let round = 0; round < 3; round++) {
    const held = `${file}.held`;
    if (cloneFile(file, held).kind !== "cloned") throw new Error("no clone");
    writeRandomPages(file, bytes, 8000);
    Deno.removeSync(held);
  }
  await must("sync", []);
  let listed: Extent[] = [];
  const syncMs = ms(() => listed = extents(file, true));
  const plainMs = ms(() => extents(file, false));
  const cloneMs = ms(() => cloneFile(file, `${file}.whole`));
  console.log(
    `${fsArg}, ${mibArg} MiB in ${listed.length} extents: FICLONE ${cloneMs.toFixed(1)} ms; ` +
      `FIEMAP listing ${syncMs.toFixed(1)} ms with FIEMAP_FLAG_SYNC, ${
        plainMs.toFixed(1)
      } ms without`,
  );
  const early = `${file}.early`;
  if (cloneFile(file, early).kind !== "cloned") throw new Error("no clone");
  writeRandomPages(file, bytes, 400);
  let changed: Extent[] = [];
  const diffMs = ms(() => {
    const key = (e: Extent) => `${e.logical}:${e.physical}:${e.length}:${e.flags}`;
    const same = new Set(extents(early, true).map(key));
    changed = extents(file, true).filter((e) => !same.has(key(e)));
  });
  const rangeMs = ms(() => cloneRanges(file, early, changed));
  const equal = (await sha256(file)) === (await sha256(early));
  console.log(
    `clone made early, 400 writes, then: both listed and compared ${diffMs.toFixed(1)} ms, ` +
      `${changed.length} extents cloned over it ${rangeMs.toFixed(1)} ms; total ` +
      `${(diffMs + rangeMs).toFixed(1)} ms against ${
        cloneMs.toFixed(1)
      } ms; contents equal: ${equal}`,
  );
  if (!equal) throw new Error("the early clone brought up to date differs from the file");
} finally {
  await fs.teardown();
}
