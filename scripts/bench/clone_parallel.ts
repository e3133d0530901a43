/**
 * `deno run -A scripts/bench/clone_parallel.ts <btrfs|xfs> [hot GiB] [writes] [runs] [warm|cold]`
 * (root): how long FICLONE takes for a donor-like set of files, one after another (as
 * SnapshotDirs.cloneAll does) and with K clones in flight (the ioctl as a `nonblocking` FFI call,
 * which runs on Deno's blocking thread pool), and which files take the time (issue 24).
 *
 * The set, on a fresh loop-mounted image: 220 small files (4 KiB to 1 MiB, written buffered and
 * synced), four "hot table" files of `hot GiB` in all, written sequentially then fragmented by
 * `writes` page-aligned 16 KiB O_DIRECT writes at random 16 KiB slots with an fsync every 64 writes
 * (InnoDB's pattern; on btrfs, one extent per write; on XFS only with `FRAG_WITH_CLONE=1` in the
 * environment, which writes them while a clone of each exists), and a 1 GiB log-like file written
 * sequentially (`LOG_MIB` in the environment: another size). Each measurement: `sync` (clean source
 * pages; with `cold` as the fifth argument, caches dropped too: cold metadata), then every file
 * cloned into a directory on the same file system; the clones are removed and the file system
 * synced between runs (`SETTLE_MS` in the environment: then a pause of that many ms and another
 * sync, for the frees XFS does in the background). The modes rotate their order from run to run.
 * Results: docs/benchmarks.md "What a clone costs under the lock" (on btrfs K clones in flight do
 * not pay; on fragmented XFS files two did).
 *
 * Then the dirty-source case: 256 MiB of buffered writes to the log-like file left unsynced
 * before its clone, against the same writes synced first: whether FICLONE writes back the
 * source's dirty pages inside the ioctl (under the donor's lock).
 *
 * @module
 */

import { makeLoopFs, must } from "../lib/loop_fs.ts";
import { cloneFile, FICLONE } from "../../src/proc/ficlone.ts";
import {
  alignedBuffer,
  libc,
  MiB,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECT,
  O_EXCL,
  O_RDONLY,
  O_WRONLY,
  openFd,
  PAGE,
  writeSequential,
} from "./direct_writes.ts";

/** The ioctl as a `nonblocking` FFI call: it runs on Deno's blocking thread pool. */
const offThread = Deno.dlopen("libc.so.6", {
  ioctl: { parameters: ["i32", "u64", "i32"], result: "i32", nonblocking: true },
}).symbols;

/** Buffered writes left dirty (or synced) before the dirty-source clone. */
const DIRTY_MIB = 256;

/** `n` random 16 KiB writes spread over `files` (O_DIRECT unless `buffered`), fsync every 64. */
function fragment(files: string[], size: number, n: number, buffered: boolean, sync = true) {
  const flags = O_WRONLY | O_CLOEXEC | (buffered ? 0 : O_DIRECT);
  const fds = files.map((f) => openFd(f, flags));
  const buf = alignedBuffer(PAGE);
  crypto.getRandomValues(buf);
  const slots = Math.floor(size / PAGE);
  for (let i = 0; i < n; i++) {
    const fd = fds[i % fds.length];
    const slot = Math.floor(Math.random() * slots);
    buf[0] = i & 0xff;
    buf[1] = (i >> 8) & 0xff;
    if (Number(libc.pwrite(fd, buf, BigInt(PAGE), BigInt(slot * PAGE))) !== PAGE) {
      throw new Error("pwrite");
    }
    if (sync && i % 64 === 63) libc.fsync(fd);
  }
  if (sync) { for (const fd of fds) libc.fsync(fd); }
  for (const fd of fds) libc.close(fd);
}

function extents(path: string): number {
  const out = new Deno.Command("filefrag", { args: [path], stdout: "piped" }).outputSync();
  const m = /(\d+) extents? found/.exec(new TextDecoder().decode(out.stdout));
  return m ? Number(m[1]) : -1;
}

let cold = false;

/** Everything written back (and, with `cold`, the page, dentry and inode caches dropped). */
async function settle(mnt: string, type: string): Promise<void> {
  await must("sync", []);
  if (type === "btrfs") await must("btrfs", ["filesystem", "sync", mnt]);
  if (cold) await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3");
  // SETTLE_MS: a pause for the file system's background work (XFS frees a removed clone's
  // extents after the unlink returns), then another sync.
  const pause = Number(Deno.env.get("SETTLE_MS") ?? 0);
  if (pause > 0) {
    await new Promise((r) => setTimeout(r, pause));
    await must("sync", []);
  }
}

interface Timed {
  total: number;
  per: Map<string, number>;
}

/** One after another with the project's cloneFile (what cloneAll does). */
function serial(files: string[], dest: string): Timed {
  const per = new Map<string, number>();
  const t0 = performance.now();
  for (const f of files) {
    const t = performance.now();
    const r = cloneFile(f, `${dest}/${f.split("/").pop()}`);
    if (r.kind !== "cloned") throw new Error(`${f}: ${r.reason}`);
    per.set(f, performance.now() - t);
  }
  return { total: performance.now() - t0, per };
}

/**
 * K clones in flight: both files opened on the main thread, the ioctl `nonblocking` (on Deno's
 * blocking thread pool); owner, mode and times are left out (a few µs each, on the main thread).
 */
async function concurrent(files: string[], dest: string, k: number): Promise<Timed> {
  const per = new Map<string, number>();
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++];
      const t = performance.now();
      const src = openFd(f, O_RDONLY | O_CLOEXEC);
      const dst = openFd(`${dest}/${f.split("/").pop()}`, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC);
      const rc = await offThread.ioctl(dst, BigInt(FICLONE), src);
      libc.close(dst);
      libc.close(src);
      if (rc !== 0) throw new Error(`FICLONE ${f} failed`);
      per.set(f, performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: k }, worker));
  return { total: performance.now() - t0, per };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const [type = "btrfs", hotGiB = "3", writes = "120000", runsArg = "3", cache = "warm"] =
    Deno.args;
  cold = cache === "cold";
  const logMiB = Number(Deno.env.get("LOG_MIB") ?? 1024);
  const hot = Number(hotGiB) * 1024 * MiB;
  const runs = Number(runsArg);
  const fs = await makeLoopFs(type as "btrfs" | "xfs", Math.ceil((hot * 2.5) / MiB) + 4096);
  try {
    const data = `${fs.dir}/data`;
    await Deno.mkdir(`${data}/db`, { recursive: true });
    const small: string[] = [];
    for (let i = 0; i < 220; i++) {
      const size = Math.max(4096, Math.floor(Math.random() ** 3 * MiB / 4096) * 4096);
      const p = `${data}/db/t${i}.ibd`;
      const b = new Uint8Array(size);
      crypto.getRandomValues(b.subarray(0, Math.min(size, 65536)));
      Deno.writeFileSync(p, b);
      small.push(p);
    }
    const hotFiles = [0, 1, 2, 3].map((i) => `${data}/db/hot${i}.ibd`);
    for (const h of hotFiles) writeSequential(h, hot / 4);
    writeSequential(`${data}/ib_logfile0`, logMiB * MiB);
    let t = performance.now();
    // FRAG_WITH_CLONE=1: the hot files are written while a clone of each exists, as the server
    // writes during our clone pass; on XFS that is what puts them in pieces (without a clone XFS
    // writes in place and the files stay whole).
    const withClone = Deno.env.get("FRAG_WITH_CLONE") === "1";
    if (withClone) {
      await Deno.mkdir(`${fs.dir}/early`);
      serial(hotFiles, `${fs.dir}/early`);
    }
    fragment(hotFiles, hot / 4, Number(writes), false);
    if (withClone) await Deno.remove(`${fs.dir}/early`, { recursive: true });
    console.error(`fragmented in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await settle(fs.dir, type);
    const all = [...small.slice(0, 110), ...hotFiles, `${data}/ib_logfile0`, ...small.slice(110)];
    const ext = new Map(all.map((f) => [f, extents(f)]));
    const smallBytes = small.reduce((n, f) => n + Deno.statSync(f).size, 0);
    console.log(`# ${type}, ${all.length} files, ${cache} cache, ${writes} random writes`);
    console.log(
      `small: ${small.length} files ${(smallBytes / MiB).toFixed(0)} MiB, extents ` +
        `${small.reduce((n, f) => n + ext.get(f)!, 0)}`,
    );
    for (const f of [...hotFiles, `${data}/ib_logfile0`]) {
      console.log(
        `${f.split("/").pop()}: ${Deno.statSync(f).size / MiB} MiB, ${ext.get(f)} extents`,
      );
    }
    const modes: [string, (d: string) => Promise<Timed> | Timed][] = [
      ["serial", (d) => serial(all, d)],
      ["K=2", (d) => concurrent(all, d, 2)],
      ["K=4", (d) => concurrent(all, d, 4)],
    ];
    const totals = new Map<string, number[]>(modes.map(([m]) => [m, []]));
    const perSerial = new Map<string, number[]>();
    const perK4 = new Map<string, number[]>();
    for (let r = 0; r < runs; r++) {
      for (let i = 0; i < modes.length; i++) {
        const [name, fn] = modes[(i + r) % modes.length];
        const dest = `${fs.dir}/clones`;
        await Deno.mkdir(dest);
        await settle(fs.dir, type);
        const res = await fn(dest);
        totals.get(name)!.push(res.total);
        const per = name === "serial" ? perSerial : name === "K=4" ? perK4 : null;
        for (const [f, ms] of per ? res.per : []) per!.set(f, [...(per!.get(f) ?? []), ms]);
        console.error(`run ${r + 1} ${name}: ${(res.total / 1000).toFixed(3)} s`);
        await Deno.remove(dest, { recursive: true });
        await settle(fs.dir, type);
      }
    }
    console.log(`\n| mode | runs (s) | median (s) |\n|---|---|---|`);
    for (const [m, xs] of totals) {
      console.log(
        `| ${m} | ${xs.map((x) => (x / 1000).toFixed(3)).join(", ")} | ` +
          `${(median(xs) / 1000).toFixed(3)} |`,
      );
    }
    const med = [...perSerial].map(([f, xs]) => [f, median(xs)] as const);
    const smallSum = med.filter(([f]) => small.includes(f)).reduce((n, [, ms]) => n + ms, 0);
    console.log(`\nserial per file (median ms): 220 small files together ${smallSum.toFixed(1)}`);
    for (const [f, ms] of med.filter(([f]) => !small.includes(f))) {
      console.log(
        `  ${f.split("/").pop()}: ${ms.toFixed(1)} ms (${ext.get(f)} extents; with K=4 ` +
          `${median(perK4.get(f)!).toFixed(1)} ms)`,
      );
    }
    const slowSmall = med.filter(([f]) => small.includes(f)).sort((a, b) => b[1] - a[1])[0];
    console.log(`  slowest small: ${slowSmall[1].toFixed(1)} ms`);
    // dirty vs clean source pages: the log-like file alone (10 extents), so extents do not blur it
    const log = `${data}/ib_logfile0`;
    const dirty: number[] = [];
    const clean: number[] = [];
    for (let r = 0; r < runs; r++) {
      for (const withSync of [false, true]) {
        const dest = `${fs.dir}/clones`;
        await Deno.mkdir(dest);
        await settle(fs.dir, type);
        const f = Deno.openSync(log, { write: true });
        const chunk = new Uint8Array(MiB).fill(r + 1);
        for (let i = 0; i < DIRTY_MIB; i++) f.writeSync(chunk);
        f.close();
        if (withSync) await must("sync", []);
        t = performance.now();
        serial([log], dest);
        (withSync ? clean : dirty).push(performance.now() - t);
        await Deno.remove(dest, { recursive: true });
        await settle(fs.dir, type);
      }
    }
    const row = (xs: number[]) =>
      `${xs.map((x) => (x / 1000).toFixed(3)).join(", ")} | ${(median(xs) / 1000).toFixed(3)} |`;
    console.log(
      `\nclone of ib_logfile0 alone after ${DIRTY_MIB} MiB of buffered writes to it:\n` +
        `| source pages | runs (s) | median (s) |\n|---|---|---|\n` +
        `| dirty (no sync) | ${row(dirty)}\n| synced first | ${row(clean)}`,
    );
  } finally {
    await fs.teardown();
  }
}

if (import.meta.main) await main();
