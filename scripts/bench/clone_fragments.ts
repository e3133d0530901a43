/**
 * `deno run -A scripts/bench/clone_fragments.ts [xfs|btrfs] [MiB] [writes] [rounds]` (root): why
 * the donor's clones get slower from one SST to the next (issue 24). A micro-benchmark of one
 * file, not an SST.
 *
 * On a fresh loop-mounted image, two files of `MiB` (default 512) written sequentially. Each round
 * writes `writes` (default 8000) random page-aligned 16 KiB O_DIRECT writes (fsync every 64, as
 * InnoDB writes a hot table) to each file: to `with-clone` while a clone of it exists (as the
 * server writes while our clone pass runs), the clone deleted afterwards; to `no-clone` with no
 * clone. After each round it prints both files' extents (`filefrag`) and how long a fresh clone of
 * each takes (`FICLONE`, the clone deleted again): the time the next SST's clone of that file
 * would hold the donor's lock.
 *
 * @module
 */

import { LOOP_FS_TYPES, type LoopFsType, makeLoopFs, must } from "../lib/loop_fs.ts";
import { cloneFile } from "../../src/proc/ficlone.ts";

const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_CLOEXEC = 0o2000000;
const O_DIRECT = 0o40000; // x86_64 and aarch64 differ: this bench is x86_64's

const libc = Deno.dlopen("libc.so.6", {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  fsync: { parameters: ["i32"], result: "i32" },
}).symbols;

const MiB = 1024 ** 2;
const PAGE = 16 * 1024;

function openFd(path: string, flags: number): number {
  const fd = libc.open(new TextEncoder().encode(path + "\0"), flags, 0o600);
  if (fd < 0) throw new Error(`open ${path} failed`);
  return fd;
}

/** A 4096-aligned buffer of `n` random bytes (O_DIRECT's alignment). */
function aligned(n: number): Uint8Array {
  const raw = new Uint8Array(n + 4096);
  const addr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(raw)));
  const view = raw.subarray((4096 - (addr % 4096)) % 4096).subarray(0, n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(view.subarray(i, i + 65536));
  return view;
}

function pwriteAll(fd: number, buf: Uint8Array, off: number): void {
  if (Number(libc.pwrite(fd, buf, BigInt(buf.length), BigInt(off))) !== buf.length) {
    throw new Error("short pwrite");
  }
}

/** `bytes` in 1 MiB O_DIRECT writes, fsync at the end. */
function writeSequential(path: string, bytes: number): void {
  const fd = openFd(path, O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC);
  const buf = aligned(MiB);
  for (let off = 0; off < bytes; off += MiB) pwriteAll(fd, buf, off);
  libc.fsync(fd);
  libc.close(fd);
}

/** `n` random page-aligned 16 KiB O_DIRECT writes, fsync every 64. */
function writeRandomPages(path: string, bytes: number, n: number): void {
  const fd = openFd(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
  const buf = aligned(PAGE);
  const pages = Math.floor(bytes / PAGE);
  for (let i = 0; i < n; i++) {
    buf[0] = i & 0xff;
    pwriteAll(fd, buf, Math.floor(Math.random() * pages) * PAGE);
    if (i % 64 === 63) libc.fsync(fd);
  }
  libc.fsync(fd);
  libc.close(fd);
}

function extents(path: string): number {
  const out = new Deno.Command("filefrag", { args: [path], stdout: "piped" }).outputSync();
  const m = /(\d+) extents? found/.exec(new TextDecoder().decode(out.stdout));
  if (!m) throw new Error(`filefrag ${path}: no extent count`);
  return Number(m[1]);
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
