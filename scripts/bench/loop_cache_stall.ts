/**
 * `deno run -A scripts/bench/loop_cache_stall.ts [btrfs|xfs] [buffered|direct]` (root): does data
 * read into the page cache on a loop-mounted image slow the server's synced page writes? A
 * micro-benchmark of the test bed (issue 24's btrfs stops in the middle of a transfer), not of an
 * SST.
 *
 * On a fresh image (its loop device `buffered`: through the host's page cache, the benches'
 * default; or `direct`: `LOOP_DIRECT_IO=1`, as a disk), four files of 512 MiB. A writer process
 * makes a random 16 KiB `O_DIRECT` write and an `fsync` every 10 ms to the first file for 12 s,
 * as InnoDB flushes a hot table; 2 s in, the main process reads three other files of the same
 * size through the page cache (`dd`, as rsync reads what it sends) and leaves them cached. Three
 * cases: nothing read; plain copies of the other three files read; clones of them read. Prints
 * per case the writes made, their median, 99th percentile and longest time, and how many took
 * over 100 ms.
 *
 * @module
 */

import { loopIoText, makeLoopFs, must } from "../lib/loop_fs.ts";
import { cloneFile } from "../../src/proc/ficlone.ts";
import {
  alignedBuffer,
  libc,
  MiB,
  O_CLOEXEC,
  O_DIRECT,
  O_WRONLY,
  openFd,
  PAGE,
  writeSequential,
} from "./direct_writes.ts";

const FILE_MIB = 512;
const WRITER_SECONDS = 12;
const READ_AFTER_MS = 2000;

/** The writer process: one synced random page write every 10 ms; prints each one's ms. */
async function writer(path: string, bytes: number, seconds: number): Promise<void> {
  const pages = Math.floor(bytes / PAGE);
  const fd = openFd(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
  const buf = alignedBuffer(PAGE);
  crypto.getRandomValues(buf.subarray(0, 4096));
  const t0 = performance.now();
  const ms: string[] = [];
  while (performance.now() - t0 < seconds * 1000) {
    const s = performance.now();
    const off = BigInt(Math.floor(Math.random() * pages) * PAGE);
    if (Number(libc.pwrite(fd, buf, BigInt(PAGE), off)) !== PAGE) throw new Error("short pwrite");
    libc.fsync(fd);
    const took = performance.now() - s;
    ms.push(took.toFixed(1));
    if (took < 10) await new Promise((r) => setTimeout(r, 10 - took));
  }
  libc.close(fd);
  console.log(ms.join("\n"));
}

type Case = "nothing read" | "copies read" | "clones read";

/** One case on a fresh image: the writer's write times in ms, sorted. */
async function runCase(fsType: "btrfs" | "xfs", kase: Case): Promise<number[]> {
  const fs = await makeLoopFs(fsType, 12 * FILE_MIB + 1024);
  try {
    const bytes = FILE_MIB * MiB;
    const files = [0, 1, 2, 3].map((i) => `${fs.dir}/t${i}`);
    for (const f of files) writeSequential(f, bytes);
    const others = files.slice(1).map((f) => `${f}.other`);
    for (const [i, o] of others.entries()) {
      if (kase === "clones read") {
        const r = cloneFile(files[i + 1], o);
        if (r.kind !== "cloned") throw new Error(`${o}: ${r.reason}`);
      } else writeSequential(o, bytes);
    }
    await must("sync", []);
    await Deno.writeTextFile("/proc/sys/vm/drop_caches", "1");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", import.meta.filename!, "writer", files[0], String(bytes)],
      stdout: "piped",
    }).spawn();
    await new Promise((r) => setTimeout(r, READ_AFTER_MS));
    if (kase !== "nothing read") {
      for (const o of others) await must("dd", [`if=${o}`, "of=/dev/null", "bs=1M", "status=none"]);
    }
    const out = await child.output();
    if (!out.success) throw new Error("the writer failed");
    return new TextDecoder().decode(out.stdout).trim().split("\n").map(Number)
      .sort((a, b) => a - b);
  } finally {
    await fs.teardown();
  }
}

function row(kase: Case, ms: number[]): string {
  const q = (p: number) => ms[Math.floor(p * (ms.length - 1))].toFixed(1);
  const slow = ms.filter((m) => m > 100).length;
  return `| ${kase} | ${ms.length} | ${q(0.5)} | ${q(0.99)} | ${ms.at(-1)!.toFixed(1)} | ${slow} |`;
}

if (Deno.args[0] === "writer") {
  await writer(Deno.args[1], Number(Deno.args[2]), WRITER_SECONDS);
} else {
  const [fsType = "btrfs", io = "buffered"] = Deno.args;
  if (fsType !== "btrfs" && fsType !== "xfs") throw new Error("the file system is btrfs or xfs");
  if (io !== "buffered" && io !== "direct") throw new Error("the loop I/O is buffered or direct");
  if (io === "direct") Deno.env.set("LOOP_DIRECT_IO", "1");
  else Deno.env.delete("LOOP_DIRECT_IO");
  console.log(
    `${fsType}, ${loopIoText()}; ` +
      `a synced 16 KiB O_DIRECT write every 10 ms for ${WRITER_SECONDS} s, ` +
      `3 × ${FILE_MIB} MiB read through the page cache ${READ_AFTER_MS / 1000} s in\n`,
  );
  console.log("| case | writes | median ms | p99 ms | longest ms | over 100 ms |");
  console.log("|---|---|---|---|---|---|");
  for (const kase of ["nothing read", "copies read", "clones read"] as const) {
    console.log(row(kase, await runCase(fsType, kase)));
  }
}
