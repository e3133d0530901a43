/**
 * `deno task bench:locked-split`: a micro-benchmark of where our locked pass's time goes on a
 * file system without clones (issue 24, item 6). Synthetic files, not a real SST, no MariaDB:
 *
 * - per size, on a fresh loop-mounted image (`--fs ext4|xfs|btrfs`, default ext4): a "joiner"
 *   set of `--files` table-like files (random content, 16 KiB pages) and a "donor" set equal to
 *   it except `--changed` % of its pages (default 5, about the share real runs sent), chosen at
 *   random from `--seed` and rewritten with O_DIRECT as InnoDB writes them;
 * - before each step the "InnoDB state" is made as it comes about: the joiner's set as our
 *   rsync left it (its pages cached); the donor's set read in full from the disk (the pre-copy
 *   read it), then its changed pages written again with O_DIRECT (InnoDB's writes bypass the
 *   page cache and drop the cached folios they fall in, which can be larger than a page). The
 *   loop image's own cache on the host is dropped too, so what is not cached comes from the
 *   disk. The table shows `fincore`'s cached share of each set before the step;
 * - each step runs `--runs` times (default 3; the table shows the median): reading each set,
 *   local rsync with our locked pass's options (sender and receiver through a socketpair, no
 *   tunnel) with the checksum rsync negotiates and with `--checksum-choice=md5`, the same with
 *   nothing changed, whole-file copies, the same rsync through a real socat TLS tunnel to an
 *   rsync daemon (our own argv builders: src/tunnel/socat_address.ts, rsh_command.ts,
 *   rsync_runner.ts `commonOptions`), in one and in two parallel streams, and the cost of one
 *   tunnel connection (`--connections` rsyncs of one 4 KiB file);
 * - then, once per size, a `perf` profile (cpu-clock samples) of the local and the tunnel
 *   delta rsync, grouped by the code the CPU was in.
 *
 *     deno task bench:locked-split                          # 1 GiB and 4 GiB, 3 runs, ext4
 *     deno task bench:locked-split --sizes 64M --runs 1     # quick check
 *
 * Options: `--sizes 1G,4G`, `--runs N`, `--changed 5` (%), `--files 4`, `--fs ext4|xfs|btrfs`,
 * `--seed 1`, `--connections 10`, `--no-perf`, `--no-drop-caches` (leaves out the step that
 * drops every cache of the host, for a machine shared with another benchmark). Needs root
 * (loop mounts, drop_caches), rsync, socat, openssl, fincore, GNU time (`/usr/bin/time`), and
 * perf unless `--no-perf`.
 *
 * @module
 */
import { BenchArgs } from "./options.ts";
import {
  alignedBuffer,
  evict,
  libc,
  O_CLOEXEC,
  O_DIRECT,
  O_WRONLY,
  openFd,
} from "./direct_writes.ts";
import { fmt, median, printTable } from "./report.ts";
import { versionOf } from "../bench_common.ts";
import {
  changedPages,
  type CpuPart,
  cpuParts,
  PAGE,
  parseChangedShare,
  seeded,
} from "./changed_pages.ts";
import { LOOP_FS_TYPES, type LoopFs, makeLoopFs, must } from "../lib/loop_fs.ts";
import { makeCa, makeLeaf } from "../lib/pki.ts";
import { freePort } from "../lib/fixture.ts";
import {
  connectAddress,
  listenAddress,
  rsyncServerExec,
  SOCAT_TRANSFER_BUFFER,
} from "../../src/tunnel/socat_address.ts";
import { rshSetup } from "../../src/tunnel/rsh_command.ts";
import { commonOptions, takeStats, type Tunnel } from "../../src/transfer/rsync_runner.ts";
import { VERSION } from "../../src/core/version.ts";

const KNOWN = [
  "--sizes",
  "--runs",
  "--changed",
  "--files",
  "--fs",
  "--seed",
  "--connections",
  "--no-perf",
  "--no-drop-caches",
];

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

// ---------------------------------------------------------------------------------------------
// The synthetic files: AES-CTR keystreams (random-looking, reproducible at any offset)

/** A keystream source: `bytes(offset, n)` is the same whenever asked. */
class Stream {
  #key: Promise<CryptoKey>;
  constructor(seed: number) {
    const next = seeded(seed);
    const raw = new Uint8Array(16);
    const dv = new DataView(raw.buffer);
    for (let i = 0; i < 4; i++) dv.setUint32(i * 4, next());
    this.#key = crypto.subtle.importKey("raw", raw, "AES-CTR", false, ["encrypt"]);
  }
  async bytes(offset: number, n: number): Promise<Uint8Array> {
    const counter = new Uint8Array(16);
    new DataView(counter.buffer).setBigUint64(8, BigInt(offset / 16));
    const out = await crypto.subtle.encrypt(
      { name: "AES-CTR", counter, length: 64 },
      await this.#key,
      new Uint8Array(n),
    );
    return new Uint8Array(out);
  }
}

/** One pair of files: the joiner's copy and the donor's, and the pages they differ in. */
interface FilePair {
  joiner: string;
  donor: string;
  changed: number[];
  original: Stream;
  rewritten: Stream;
}

/** The two sets of one size. */
interface DataSets {
  fs: LoopFs;
  image: string;
  joinerDir: string;
  donorDir: string;
  pairs: FilePair[];
  bytes: number;
  changedBytes: number;
}

async function makeSets(
  fs: LoopFs,
  sizeMiB: number,
  files: number,
  share: number,
  seed: number,
): Promise<DataSets> {
  const image = fs.dir.replace(/\/mnt$/, "/image");
  await Deno.stat(image); // makeLoopFs's layout: <root>/image mounted on <root>/mnt
  const joinerDir = `${fs.dir}/joiner`;
  const donorDir = `${fs.dir}/donor`;
  await Deno.mkdir(joinerDir);
  await Deno.mkdir(donorDir);
  const pagesPerFile = Math.floor(sizeMiB * MiB / files / PAGE);
  const pairs: FilePair[] = [];
  for (let i = 0; i < files; i++) {
    const name = `t${i + 1}.ibd`;
    pairs.push({
      joiner: `${joinerDir}/${name}`,
      donor: `${donorDir}/${name}`,
      changed: changedPages(pagesPerFile, share, seed * 1000 + i),
      original: new Stream(seed * 1000 + 2 * i + 1),
      rewritten: new Stream(seed * 1000 + 2 * i + 2),
    });
  }
  const chunk = 16 * MiB;
  const bytes = pagesPerFile * PAGE;
  for (const p of pairs) {
    const [j, d] = [await Deno.create(p.joiner), await Deno.create(p.donor)];
    try {
      for (let off = 0; off < bytes; off += chunk) {
        const data = await p.original.bytes(off, Math.min(chunk, bytes - off));
        await writeAll(j, data);
        await writeAll(d, data);
      }
      await j.syncData();
      await d.syncData();
    } finally {
      j.close();
      d.close();
    }
    await rewriteDirect(p);
  }
  const changedBytes = pairs.reduce((s, p) => s + p.changed.length * PAGE, 0);
  return { fs, image, joinerDir, donorDir, pairs, bytes: bytes * files, changedBytes };
}

/**
 * InnoDB's writes since the pre-copy: the donor's changed pages written with O_DIRECT, past the
 * page cache (the kernel drops the cached folios they fall in; on kernels with large folios a
 * folio can be larger than a page, so more than the changed pages may leave the cache).
 */
async function rewriteDirect(p: FilePair): Promise<void> {
  const page = alignedBuffer(PAGE);
  const fd = openFd(p.donor, O_WRONLY | O_DIRECT | O_CLOEXEC);
  try {
    for (const n of p.changed) {
      page.set(await p.rewritten.bytes(n * PAGE, PAGE));
      if (Number(libc.pwrite(fd, page, BigInt(PAGE), BigInt(n * PAGE))) !== PAGE) {
        throw new Error(`O_DIRECT write to ${p.donor} failed`);
      }
    }
    libc.fsync(fd);
  } finally {
    libc.close(fd);
  }
}

async function writeAll(f: Deno.FsFile, data: Uint8Array): Promise<void> {
  for (let o = 0; o < data.length;) o += await f.write(data.subarray(o));
}

// ---------------------------------------------------------------------------------------------
// Cache states

/** What the next step needs the joiner's set to hold. */
type JoinerContent = "pre-copy" | "donor's";

/** Tracks what the sets hold and which of their pages are cached. */
class State {
  joiner: JoinerContent = "pre-copy";
  /** After a drop of every cache: the sets must be read back in before the InnoDB state. */
  cold = false;
  constructor(readonly s: DataSets) {}

  /** Runs `copy`, an rsync into the joiner's set: the joiner then holds the donor's content. */
  async copying<T>(copy: Promise<T>): Promise<T> {
    const r = await copy;
    this.joiner = "donor's";
    return r;
  }

  /**
   * The InnoDB state, made as it comes about: the joiner's set holds `joiner` and is cached
   * (rsync wrote it); the donor's set is dropped from the cache and read in full (the pre-copy
   * read it from the disk), then its changed
   * pages are written again with O_DIRECT (InnoDB); then the image's cache on the host is
   * dropped, so what left the file system's cache comes from the disk.
   */
  async innodb(joiner: JoinerContent = "pre-copy"): Promise<void> {
    if (this.cold) {
      await readSets([this.s.joinerDir], this.s);
      this.cold = false;
    }
    if (this.joiner !== joiner) {
      for (const p of this.s.pairs) {
        const src = joiner === "pre-copy" ? p.original : p.rewritten;
        const f = await Deno.open(p.joiner, { write: true });
        try {
          for (const n of p.changed) {
            await f.seek(n * PAGE, Deno.SeekMode.Start);
            await writeAll(f, await src.bytes(n * PAGE, PAGE));
          }
          await f.syncData();
        } finally {
          f.close();
        }
      }
      this.joiner = joiner;
    }
    // The pre-copy read the donor's files from the disk, which caches them in folios as large
    // as readahead makes them; then InnoDB wrote.
    for (const p of this.s.pairs) evict(p.donor);
    await readSets([this.s.donorDir], this.s);
    for (const p of this.s.pairs) await rewriteDirect(p);
    await must("sync", []);
    evict(this.s.image);
  }

  /** Every cache dropped (`echo 3 > drop_caches`). */
  async cold3(): Promise<void> {
    await must("sync", []);
    await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3\n");
    this.cold = true;
  }

  /** The cached share of each set, from `fincore`. */
  async cached(): Promise<{ donor: number; joiner: number }> {
    const share = async (paths: string[]) => {
      const out = await new Deno.Command("fincore", {
        args: ["--bytes", "--noheadings", "--raw", "--output", "RES", ...paths],
        stdout: "piped",
      }).output();
      const res = new TextDecoder().decode(out.stdout).trim().split("\n").map(Number);
      return res.reduce((a, b) => a + b, 0) / this.s.bytes;
    };
    return {
      donor: await share(this.s.pairs.map((p) => p.donor)),
      joiner: await share(this.s.pairs.map((p) => p.joiner)),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Timed commands

/** One timed run of a step. */
interface Sample {
  wall: number;
  /** CPU seconds (user + system) of the command and its children, both sides. */
  cpu: number;
  /** Bytes rsync says it sent (null: not an rsync). */
  sent: number | null;
}

/** Runs `cmd args` under GNU time; throws when it fails. */
async function timed(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Sample & { stdout: string }> {
  const out = await Deno.makeTempFile({ prefix: "lsplit-time-" });
  try {
    const t0 = performance.now();
    const r = await new Deno.Command("/usr/bin/time", {
      args: ["-f", "%U %S", "-o", out, cmd, ...args],
      env: { ...env, LC_ALL: "C" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const wall = (performance.now() - t0) / 1000;
    const stdout = new TextDecoder().decode(r.stdout);
    if (!r.success) {
      throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
    }
    const [u, s] = (await Deno.readTextFile(out)).trim().split("\n").at(-1)!.split(" ").map(
      Number,
    );
    return { wall, cpu: u + s, sent: takeStats(stdout).sent, stdout };
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

/** Reads `dirs`' files to nowhere (`dd`, 1 MiB reads), one after another. */
function readSets(dirs: string[], s: DataSets): Promise<Sample> {
  const files = dirs.flatMap((d) => s.pairs.map((p) => `${d}/${p.joiner.split("/").at(-1)}`));
  return timed("sh", [
    "-c",
    'for f; do dd if="$f" of=/dev/null bs=1M status=none || exit 1; done',
    "sh",
    ...files,
  ]);
}

/** Our locked pass's rsync options, minus the tunnel's (`--rsh`, `--password-file`). */
function lockedPassOptions(delta: boolean, tunnel?: TunnelEnds): string[] {
  const stub = {
    idleTimeoutSec: 60,
    rsh: tunnel?.rsh ?? { rsh: "", env: {} },
    passwordFile: tunnel?.passwordFile ?? "",
  } as unknown as Tunnel; // commonOptions reads only these three
  const opts = commonOptions(stub, delta);
  return tunnel ? opts : opts.filter((o) => !/^--(rsh|password-file)=/.test(o));
}

/** A local rsync (no tunnel) of the donor's set onto the joiner's. */
function localRsync(s: DataSets, delta: boolean, extra: string[] = []): Promise<Sample> {
  return timed("rsync", [
    ...lockedPassOptions(delta),
    ...extra,
    "--",
    ...s.pairs.map((p) => p.donor),
    `${s.joinerDir}/`,
  ]);
}

// ---------------------------------------------------------------------------------------------
// The tunnel: a socat OPENSSL-LISTEN running an rsync daemon per connection, as the joiner runs
// it, and the donor's `--rsh` socat client, with mutual certificate verification.

interface TunnelEnds {
  rsh: { rsh: string; env: Record<string, string> };
  passwordFile: string;
  listener: Deno.ChildProcess;
  dir: string;
  /** Points the daemon's module at `path` (the next size's joiner set). */
  module(path: string): Promise<void>;
  close(): Promise<void>;
}

const MODULE = "bench";

async function openTunnel(): Promise<TunnelEnds> {
  const dir = await Deno.makeTempDir({ prefix: "lsplit-tunnel-" });
  let listener: Deno.ChildProcess | null = null;
  const close = async () => {
    if (listener) {
      try {
        Deno.kill(-listener.pid, "SIGTERM");
      } catch { /* gone */ }
      await listener.status;
      listener = null;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await Deno.chmod(dir, 0o700);
    const ca = await makeCa(dir, "bench-ca");
    const joiner = await makeLeaf(dir, ca, "joiner", { sans: ["DNS:localhost", "IP:127.0.0.1"] });
    const donor = await makeLeaf(dir, ca, "donor");
    const secret = crypto.randomUUID();
    const secrets = `${dir}/rsyncd.secrets`;
    const passwordFile = `${dir}/rsync.password`;
    await Deno.writeTextFile(secrets, `sst:${secret}\n`, { mode: 0o600 });
    await Deno.writeTextFile(passwordFile, `${secret}\n`, { mode: 0o600 });
    const config = `${dir}/rsyncd.conf`;
    const module = (path: string) =>
      Deno.writeTextFile(
        config,
        [
          "use chroot = no",
          "read only = no",
          "list = no",
          "uid = 0",
          "gid = 0",
          "timeout = 60",
          "auth users = sst",
          "strict modes = yes",
          `secrets file = ${secrets}`,
          `log file = ${dir}/rsyncd.log`,
          `[${MODULE}]`,
          `path = ${path}`,
          "",
        ].join("\n"),
        { mode: 0o600 },
      );
    await module(dir);
    const socatVersion = versionOf("socat", ["-V"], /socat version/).match(/[\d.]+/)?.[0] ?? "";
    const port = freePort();
    const tls = (leaf: { cert: string; key: string }) => ({
      certFile: leaf.cert,
      keyFile: leaf.key,
      caFile: ca.cert,
    });
    listener = new Deno.Command("setsid", {
      args: [
        "socat",
        ...SOCAT_TRANSFER_BUFFER,
        "-T",
        "65",
        listenAddress({
          port,
          bind: { kind: "ipv4", address: "127.0.0.1" },
          ipv6: false,
          maxChildren: 16,
          tls: tls(joiner),
          sockopt: [],
          socatVersion,
        }),
        rsyncServerExec("rsync", config),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const connect = connectAddress({
      host: { kind: "ipv4", address: "127.0.0.1" },
      port,
      peerName: "localhost",
      connectTimeoutSec: 10,
      tls: tls(donor),
      sockopt: [],
    });
    const rsh = rshSetup({
      socat: "/usr/bin/socat",
      args: [...SOCAT_TRANSFER_BUFFER, "-t", "0", "-T", "65", "STDIO", connect],
      logDir: dir,
    });
    for (let i = 0; i < 100; i++) {
      const r = await new Deno.Command("ss", {
        args: ["-Hltn", `sport = :${port}`],
        stdout: "piped",
      })
        .output();
      if (new TextDecoder().decode(r.stdout).trim()) break;
      if (i === 99) throw new Error(`socat did not listen on 127.0.0.1:${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { rsh, passwordFile, listener, dir, module, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** CPU seconds the listener's reaped children (socat per connection, rsync daemon) used. */
function listenerChildCpu(t: TunnelEnds, tick: number): number {
  const stat = Deno.readTextFileSync(`/proc/${socatPid(t)}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 16 and 17 (cutime, cstime), counted from pid = 1; f[0] is field 3.
  return (Number(f[13]) + Number(f[14])) / tick;
}

/** The socat under `setsid` (setsid execs it: the same PID). */
function socatPid(t: TunnelEnds): number {
  return t.listener.pid;
}

/** rsync of `pairs`' donor files to the joiner's daemon through the tunnel. */
function tunnelArgs(t: TunnelEnds, sources: string[], delta: boolean, extra: string[] = []) {
  return [...lockedPassOptions(delta, t), ...extra, "--", ...sources, `sst@joiner::${MODULE}/`];
}

async function tunnelRsync(
  t: TunnelEnds,
  tick: number,
  groups: string[][],
  delta: boolean,
): Promise<Sample> {
  const before = listenerChildCpu(t, tick);
  const t0 = performance.now();
  const runs = await Promise.all(
    groups.map((g) => timed("rsync", tunnelArgs(t, g, delta), t.rsh.env)),
  );
  const wall = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 300)); // socat reaps its children
  const joinerCpu = listenerChildCpu(t, tick) - before;
  return {
    wall,
    cpu: runs.reduce((a, r) => a + r.cpu, 0) + joinerCpu,
    sent: runs.reduce((a, r) => a + (r.sent ?? 0), 0),
  };
}

// ---------------------------------------------------------------------------------------------
// The steps

interface Step {
  key: string;
  label: string;
  /** What it reads and sends. */
  what: string;
  run(): Promise<Sample>;
  /** Prepares the caches and contents (default: the InnoDB state). */
  prepare?(): Promise<void>;
  /** Seconds per connection (the tunnel's set-up row). */
  perConnection?: number;
}

function steps(
  s: DataSets,
  st: State,
  t: TunnelEnds,
  tick: number,
  connections: number,
): Step[] {
  const donors = s.pairs.map((p) => p.donor);
  const half = Math.ceil(donors.length / 2);
  const delta = "reads both sets, sends the changed pages";
  return [
    {
      key: "read-donor",
      label: "read the donor's set",
      what: "donor's files, what is not cached from disk",
      run: () => readSets([s.donorDir], s),
    },
    {
      key: "read-donor-cached",
      label: "read the donor's set again",
      what: "donor's files, all cached",
      prepare: async () => {},
      run: () => readSets([s.donorDir], s),
    },
    {
      key: "read-joiner",
      label: "read the joiner's set",
      what: "joiner's files (cached)",
      run: () => readSets([s.joinerDir], s),
    },
    {
      key: "local-delta",
      label: "rsync delta, local, negotiated checksum",
      what: delta,
      run: () => st.copying(localRsync(s, true)),
    },
    {
      key: "local-same",
      label: "rsync delta, local, nothing changed",
      what: "reads both sets (already equal), sends no page",
      prepare: () => st.innodb("donor's"),
      run: () => localRsync(s, true),
    },
    {
      key: "local-md5",
      label: "rsync delta, local, --checksum-choice=md5",
      what: delta,
      run: () => st.copying(localRsync(s, true, ["--checksum-choice=md5"])),
    },
    {
      key: "local-whole",
      label: "rsync --whole-file, local",
      what: "reads the donor's set, sends and writes all of it",
      run: () => st.copying(localRsync(s, false)),
    },
    {
      key: "tunnel-delta",
      label: "rsync delta through the TLS tunnel (1 stream)",
      what: `${delta}, over socat TLS to an rsync daemon`,
      run: () => st.copying(tunnelRsync(t, tick, [donors], true)),
    },
    {
      key: "tunnel-delta-warm",
      label: "rsync delta through the TLS tunnel (1 stream), donor's set read just before",
      what: `${delta}; the donor's set cached (a read before the lock)`,
      prepare: async () => {
        await st.innodb();
        await readSets([s.donorDir], s);
      },
      run: () => st.copying(tunnelRsync(t, tick, [donors], true)),
    },
    {
      key: "tunnel-delta-2",
      label: "rsync delta through the TLS tunnel, 2 parallel streams",
      what: `${delta}; half the files each`,
      run: () =>
        st.copying(tunnelRsync(t, tick, [donors.slice(0, half), donors.slice(half)], true)),
    },
    {
      key: "tunnel-whole",
      label: "rsync --whole-file through the TLS tunnel (1 stream)",
      what: "reads the donor's set, sends and writes all of it",
      run: () => st.copying(tunnelRsync(t, tick, [donors], false)),
    },
    {
      key: "tunnel-connect",
      label: `tunnel connections: ${connections} rsyncs of one 4 KiB file`,
      what: "set-up of rsync + socat + TLS + daemon, per connection",
      prepare: async () => {},
      run: async () => {
        const tiny = `${s.fs.dir}/tiny`;
        await Deno.writeFile(tiny, new Uint8Array(4096));
        const before = listenerChildCpu(t, tick);
        let cpu = 0;
        const t0 = performance.now();
        for (let i = 0; i < connections; i++) {
          cpu += (await timed("rsync", tunnelArgs(t, [tiny], true), t.rsh.env)).cpu;
        }
        const wall = (performance.now() - t0) / 1000;
        await new Promise((r) => setTimeout(r, 300));
        return { wall, cpu: cpu + listenerChildCpu(t, tick) - before, sent: null };
      },
    },
    {
      key: "read-donor-cold",
      label: "read the donor's set, every cache dropped",
      what: "donor's files, all from disk",
      prepare: () => st.cold3(),
      run: () => readSets([s.donorDir], s),
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// perf profiles

const PERF_HZ = 1000;

async function perfReport(data: string): Promise<Map<CpuPart, number>> {
  const r = await new Deno.Command("perf", {
    args: ["report", "-i", data, "--stdio", "-n", "--sort", "comm,dso"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return cpuParts(new TextDecoder().decode(r.stdout));
}

/** CPU seconds by part of the local and the tunnel delta rsync, one profiled run each. */
async function profiles(
  s: DataSets,
  st: State,
  t: TunnelEnds,
): Promise<{ local: Map<CpuPart, number>; tunnel: Map<CpuPart, number> }> {
  const dir = await Deno.makeTempDir({ prefix: "lsplit-perf-" });
  const rec = ["record", "-q", "-e", "cpu-clock", "-F", String(PERF_HZ)];
  try {
    await st.innodb();
    await st.copying(must("perf", [...rec, "-o", `${dir}/local`, "--", "rsync", ...localArgs(s)]));
    const local = await perfReport(`${dir}/local`);
    await st.innodb();
    // The joiner's side: the listener's future children (perf follows forks of the task).
    const joinerPerf = new Deno.Command("perf", {
      args: [...rec, "-p", String(socatPid(t)), "-o", `${dir}/joiner`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((r) => setTimeout(r, 1000));
    const donor = new Deno.Command("perf", {
      args: [
        ...rec,
        "-o",
        `${dir}/donor`,
        "--",
        "rsync",
        ...tunnelArgs(t, s.pairs.map((p) => p.donor), true),
      ],
      env: { ...t.rsh.env },
      stdout: "null",
      stderr: "piped",
    });
    const r = await st.copying(donor.output());
    if (!r.success) throw new Error(`perf rsync: ${new TextDecoder().decode(r.stderr)}`);
    await new Promise((r) => setTimeout(r, 500));
    joinerPerf.kill("SIGINT");
    await joinerPerf.status;
    const tunnel = await perfReport(`${dir}/donor`);
    for (const [k, v] of await perfReport(`${dir}/joiner`)) tunnel.set(k, (tunnel.get(k) ?? 0) + v);
    return { local, tunnel };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function localArgs(s: DataSets): string[] {
  return [...lockedPassOptions(true), "--", ...s.pairs.map((p) => p.donor), `${s.joinerDir}/`];
}

// ---------------------------------------------------------------------------------------------
// Main

interface Result {
  sizeMiB: number;
  sets: DataSets;
  rows: { step: Step; samples: Sample[]; cached: { donor: number; joiner: number }[] }[];
  perf: { local: Map<CpuPart, number>; tunnel: Map<CpuPart, number> } | null;
}

async function measureSize(
  sizeMiB: number,
  o: Options,
  t: TunnelEnds,
  tick: number,
): Promise<Result> {
  const fsMiB = Math.ceil(sizeMiB * 2.3) + 512;
  const fs = await makeLoopFs(o.fs, fsMiB);
  try {
    console.error(`[${sizeMiB} MiB] writing the sets on ${o.fs} (${fsMiB} MiB image)`);
    const sets = await makeSets(fs, sizeMiB, o.files, o.share, o.seed);
    await t.module(sets.joinerDir);
    const st = new State(sets);
    const list = steps(sets, st, t, tick, o.connections).filter((x) =>
      o.dropCaches || x.key !== "read-donor-cold"
    );
    const rows = list.map((step) => ({
      step,
      samples: [] as Sample[],
      cached: [] as { donor: number; joiner: number }[],
    }));
    for (let r = 0; r < o.runs; r++) {
      for (const row of rows) {
        await (row.step.prepare ?? (() => st.innodb()))();
        row.cached.push(await st.cached());
        const sample = await row.step.run();
        row.samples.push(sample);
        console.error(
          `[${sizeMiB} MiB] run ${r + 1}: ${row.step.key} ${sample.wall.toFixed(2)} s, ` +
            `CPU ${sample.cpu.toFixed(2)} s${sample.sent !== null ? `, sent ${sample.sent}` : ""}`,
        );
      }
    }
    const perf = o.perf ? await profiles(sets, st, t) : null;
    return { sizeMiB, sets, rows, perf };
  } finally {
    await fs.teardown();
  }
}

interface Options {
  sizes: number[];
  runs: number;
  share: number;
  files: number;
  fs: (typeof LOOP_FS_TYPES)[number];
  seed: number;
  connections: number;
  perf: boolean;
  /** Whether the step that drops every cache of the host runs. */
  dropCaches: boolean;
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(0)} %` : "—";
}

function report(res: Result): void {
  const s = res.sets;
  const med = (k: string, f: (x: Sample) => number) =>
    median(res.rows.find((r) => r.step.key === k)?.samples.map(f) ?? []);
  const total = med("tunnel-delta", (x) => x.wall);
  console.log("");
  console.log(
    `### ${(s.bytes / GiB).toFixed(2)} GiB in ${s.pairs.length} files on ${s.fs.type}, ` +
      `${(s.changedBytes / MiB).toFixed(1)} MiB changed (${
        (100 * s.changedBytes / s.bytes).toFixed(1)
      } % of the 16 KiB pages)`,
  );
  console.log("");
  printTable(
    [
      "step",
      "what it reads / sends",
      "cached before (donor / joiner, median)",
      "s (median)",
      "runs s",
      "GiB/s of the set",
      "CPU s (both sides)",
      "sent MiB",
      "share of the tunnel rsync's s",
    ],
    res.rows.map(({ step, samples, cached }) => {
      const wall = median(samples.map((x) => x.wall));
      const sent = median(samples.map((x) => x.sent ?? NaN));
      const perConn = step.key === "tunnel-connect";
      return [
        step.label,
        step.what,
        `${pct(median(cached.map((c) => c.donor)))} / ${pct(median(cached.map((c) => c.joiner)))}`,
        fmt(wall),
        samples.map((x) => fmt(x.wall)).join(", "),
        perConn ? "—" : fmt(s.bytes / GiB / wall),
        fmt(median(samples.map((x) => x.cpu))),
        fmt(sent / MiB, 1),
        perConn ? "—" : pct(wall / total),
      ];
    }),
  );
  const conn = res.rows.find((r) => r.step.key === "tunnel-connect");
  if (conn) {
    const n = Number(conn.step.label.match(/\d+/)?.[0] ?? 1);
    console.log("");
    console.log(
      `One tunnel connection (rsync + socat + TLS handshake + daemon, 4 KiB file): ` +
        `${fmt(median(conn.samples.map((x) => x.wall)) / n, 3)} s.`,
    );
  }
  const d = (a: string, b: string) => med(a, (x) => x.wall) - med(b, (x) => x.wall);
  console.log("");
  console.log("Differences of medians (s):");
  console.log("");
  const differences: [what: string, how: string, minus: string, from: string][] = [
    [
      "the donor's set cached when the lock begins",
      "tunnel delta − tunnel delta with the donor's set read just before",
      "tunnel-delta",
      "tunnel-delta-warm",
    ],
    [
      "the donor's uncached pages from disk",
      "read the donor's set − read it again (cached)",
      "read-donor",
      "read-donor-cached",
    ],
    [
      "the changed pages in rsync (search, send, write)",
      "local delta − local delta with nothing changed",
      "local-delta",
      "local-same",
    ],
    [
      "md5 instead of the negotiated checksum",
      "local md5 − local negotiated",
      "local-md5",
      "local-delta",
    ],
    [
      "the tunnel (TLS, daemon, socket)",
      "tunnel delta − local delta",
      "tunnel-delta",
      "local-delta",
    ],
    ["a second stream", "tunnel delta, 2 streams − 1 stream", "tunnel-delta-2", "tunnel-delta"],
  ];
  printTable(
    ["what", "how", "s", "share of the tunnel rsync's s"],
    differences.map(([what, how, x, y]) => [what, how, fmt(d(x, y)), pct(d(x, y) / total)]),
  );
  if (res.perf) {
    console.log("");
    console.log(
      `CPU by code (perf, cpu-clock at ${PERF_HZ} Hz, one profiled run each; every process of ` +
        "the transfer on both sides):",
    );
    console.log("");
    const parts = new Set<CpuPart>([...res.perf.local.keys(), ...res.perf.tunnel.keys()]);
    const sum = (m: Map<CpuPart, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const [lt, tt] = [sum(res.perf.local), sum(res.perf.tunnel)];
    printTable(
      ["code", "local delta CPU s", "share", "tunnel delta CPU s", "share"],
      [...parts].sort((a, b) => (res.perf!.tunnel.get(b) ?? 0) - (res.perf!.tunnel.get(a) ?? 0))
        .map((p) => {
          const [l, t] = [res.perf!.local.get(p) ?? 0, res.perf!.tunnel.get(p) ?? 0];
          return [p, fmt(l / PERF_HZ), pct(l / lt), fmt(t / PERF_HZ), pct(t / tt)];
        }).concat([["all", fmt(lt / PERF_HZ), "100 %", fmt(tt / PERF_HZ), "100 %"]]),
    );
  }
}

function negotiated(): string {
  const dir = Deno.makeTempDirSync({ prefix: "lsplit-nstr-" });
  try {
    Deno.writeFileSync(`${dir}/a`, new Uint8Array(PAGE));
    const out = new Deno.Command("rsync", {
      args: ["--debug=NSTR", "--no-whole-file", `${dir}/a`, `${dir}/b`],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return text.match(/negotiated checksum: (\S+)/)?.[1] ?? "?";
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

async function main(): Promise<void> {
  const a = new BenchArgs(Deno.args, KNOWN, "scripts/bench/locked_split.ts");
  const o: Options = {
    sizes: a.sizes("1G,4G"),
    runs: a.count("--runs", 3),
    share: parseChangedShare(a.last("--changed", "5")),
    files: a.count("--files", 4),
    fs: a.choice("--fs", ["ext4", "xfs", "btrfs"] as const),
    seed: a.count("--seed", 1),
    connections: a.count("--connections", 10),
    perf: !a.flag("--no-perf"),
    dropCaches: !a.flag("--no-drop-caches"),
  };
  if (Deno.uid() !== 0) throw new Error("bench:locked-split needs root (loop mounts, drop_caches)");
  const t0 = Date.now();
  const tick = Number(new TextDecoder().decode(
    new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).outputSync().stdout,
  ));
  const results: Result[] = [];
  const tunnel = await openTunnel();
  try {
    for (const size of o.sizes) {
      await tunnel.module(tunnel.dir);
      results.push(await measureSize(size, o, tunnel, tick));
    }
  } finally {
    await tunnel.close();
  }
  console.log("## Where the locked pass's time goes without clones: a micro-benchmark");
  console.log("");
  console.log(
    "Synthetic files, not a real SST: no MariaDB, donor and joiner sets on one loop-mounted " +
      `${o.fs} image on this host, ${o.files} files per set, random content, ${
        (o.share * 100).toFixed(1)
      } % of the 16 KiB pages of the donor's set rewritten with O_DIRECT (seed ${o.seed}). ` +
      "Before each step (unless its caches column says otherwise) the InnoDB state, made as it " +
      "comes about: the joiner's set as rsync left it (cached); the donor's set read in full " +
      "from the disk (as the pre-copy read it), then its changed pages written again with O_DIRECT (as " +
      "InnoDB writes them), which drops the cached folios they fall in (fincore's share before " +
      "each step in the caches column); the image's own cache on the host dropped, so what is " +
      "not cached comes from the disk. rsync runs with our locked " +
      "pass's options (" + lockedPassOptions(true).join(" ") + "); the tunnel is our socat " +
      "TLS client and listener (mutual verification) with an rsync daemon per connection, on " +
      "loopback; the share column divides by the 1-stream tunnel rsync. CPU s: user + system of every process of the step (both sides). " +
      `${o.runs} run(s) per step, median; ${navigator.hardwareConcurrency} CPUs; ` +
      `total ${((Date.now() - t0) / 60000).toFixed(1)} min. rsync's negotiated checksum: ` +
      `${negotiated()}.`,
  );
  for (const r of results) report(r);
  console.log("");
  console.log(`wsrep_sst_rsync_tunnel ${VERSION}; deno ${Deno.version.deno}`);
  console.log(versionOf("rsync", ["--version"]));
  console.log(
    "rsync " + versionOf("rsync", ["--version"], /SIMD|asm/).replace(/\s+/g, " ") + "; " +
      "checksums " + versionOf("rsync", ["--version"], /xxh/).trim(),
  );
  console.log(versionOf("socat", ["-V"], /socat version/));
  console.log(versionOf("openssl", ["version"]));
  console.log(versionOf("uname", ["-r"]));
}

if (import.meta.main) await main();
