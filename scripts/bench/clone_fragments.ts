/**
 * `deno run -A scripts/bench/clone_fragments.ts [xfs|btrfs] [MiB] [writes] [rounds]` (root): why
 * the donor's clones get slower from one SST to the next (issue 24). A micro-benchmark of one
 * file, not an SST.
 *
 * On a fresh loop-mounted image, two files of `MiB` (default 512) written sequentially. Each round
 * writes `writes` (default 8000) random page-aligned 16 KiB O_DIRECT writes (fsync every 64, as
 * InnoDB writes a hot table) to each file: to `with-clone` while a clone of it exists (as the
 * server writes while our clone pass runs), the clone deleted afterwards; to `no-clone` with no
 * clone. After each round it prints both files' extents (FIEMAP, as `filefrag` counts them) and
 * how long a fresh clone of each takes (`FICLONE`, the clone deleted again): the time the next
 * SST's clone of that file would hold the donor's lock.
 *
 * @module
 */

import { LOOP_FS_TYPES, type LoopFsType, makeLoopFs, must } from "../lib/loop_fs.ts";
import { cloneFile, extentCount } from "../../src/proc/ficlone.ts";
import { MiB, writeRandomPages, writeSequential } from "./direct_writes.ts";

function extents(path: string): number {
  const n = extentCount(path);
  if (n === null) throw new Error(`${path}: no extent count`);
  return n;
}

/** Seconds a fresh clone of `path` takes; the clone is deleted again. */
function cloneSeconds(path: string): number {
  const dest = `${path}.probe`;
  const t = performance.now();
  const r = cloneFile(path, dest);
  const s = (performance.now() - t) / 1000;
  if (r.kind !== "cloned") throw new Error(`${path}: ${r.reason}`);
  Deno.removeSync(dest);
  return s;
}

const [fsArg = "xfs", mibArg = "512", writesArg = "8000", roundsArg = "4"] = Deno.args;
if (!LOOP_FS_TYPES.includes(fsArg as LoopFsType) || fsArg === "ext4") {
  throw new Error("the file system is xfs or btrfs (ext4 does not clone)");
}
const bytes = Number(mibArg) * MiB;
const writes = Number(writesArg);
const rounds = Number(roundsArg);
const fs = await makeLoopFs(fsArg as LoopFsType, 4 * Number(mibArg) + 512);
try {
  const withClone = `${fs.dir}/with-clone`;
  const noClone = `${fs.dir}/no-clone`;
  writeSequential(withClone, bytes);
  writeSequential(noClone, bytes);
  await must("sync", []);
  console.log(`${fsArg}, two files of ${mibArg} MiB, ${writes} random 16 KiB O_DIRECT writes each`);
  console.log(`per round; "clone s": FICLONE of the whole file after the round (clean pages)\n`);
  console.log(
    "| round | with a clone during the writes: extents | clone s | no clone: extents | clone s |",
  );
  console.log("|---|---|---|---|---|");
  const row = (round: string) =>
    `| ${round} | ${extents(withClone)} | ${cloneSeconds(withClone).toFixed(3)} | ` +
    `${extents(noClone)} | ${cloneSeconds(noClone).toFixed(3)} |`;
  console.log(row("0 (written)"));
  for (let round = 1; round <= rounds; round++) {
    const held = `${withClone}.held`;
    const r = cloneFile(withClone, held);
    if (r.kind !== "cloned") throw new Error(`clone: ${r.reason}`);
    writeRandomPages(withClone, bytes, writes);
    Deno.removeSync(held);
    writeRandomPages(noClone, bytes, writes);
    await must("sync", []);
    console.log(row(String(round)));
  }
} finally {
  await fs.teardown();
}
