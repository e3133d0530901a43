/**
 * `deno task bench`: the real-cluster benchmark (not a test). A 2-node MariaDB Galera cluster,
 * each node in its own network namespace (`bench-…`, see test/e2e/netns.ts), node1 holding
 * incompressible InnoDB tables; node2 is wiped and joins by a full SST, again and again, with:
 *
 * - `rsync` — MariaDB's stock `wsrep_sst_rsync`, plaintext;
 * - `rsync+stunnel` — the same script with `[sst] tca/tcert/tkey` and `ssl-mode=VERIFY_CA`
 *   (it then runs stunnel on both ends; VERIFY_IDENTITY would pin leaf certificates);
 * - `rsync_tunnel` — this program (mutual TLS through socat, per-SST secret);
 * - optional variants of `rsync_tunnel` with extra `[sst]` keys (`--variant`).
 *
 * Runs are interleaved (round r runs every method once, in a rotating order) so machine drift
 * hits all alike. Before the rounds of a size, the donor's files are read once (InnoDB wrote
 * them with O_DIRECT, so they were not cached) and one uncounted warm-up SST runs; before every
 * run, `sync` and the dirty pages of the last one drain. The table shows the median of N per
 * method and size:
 *
 *     deno task bench                                   # 1 GiB and 4 GiB, 3 runs, fast link
 *     deno task bench --sizes 256M --runs 1             # quick check
 *     deno task bench --sizes 1G --link slow            # 200 Mbit/s between the nodes
 *     deno task bench --sizes 1G --variant zstd:compress=zstd --methods tunnel
 *
 * Options: `--sizes 1G,4G` (MiB without suffix), `--runs N`, `--methods plain,stunnel,tunnel`,
 * `--variant label:key=value[;key=value]` (repeatable; an `rsync_tunnel` method with these
 * `[sst]` keys), `--cpu` (per run: CPU seconds of the SST processes by command, a rough
 * profile; the last sample before a process exits, so short-lived ones are undercounted), `--link fast|slow` (slow: 200 Mbit/s each way, plus 5 ms delay each way where
 * the kernel has netem), `--keep` (keep the cluster files).
 *
 * Measured per run, from /proc (sampled every 50 ms, PIDs of the processes mariadbd starts):
 * - SST seconds: from the start of the joiner's SST script to its exit (everything the joiner
 *   waits for: listener, donor selection, flush, copy, completion);
 * - ready seconds: from that start until the joiner's SST port listens (the script prints
 *   `ready` right after);
 * - peak RSS: the largest sum, over one sample, of the resident memory of the SST processes
 *   below both mariadbd (scripts, socat/stunnel, rsync, our Deno processes), and of the Deno
 *   processes alone (this program).
 * Each run is checked: node2 reports an SST and holds as many table bytes as node1.
 *
 * Data are loaded once (grown from the smaller size to the larger) on node1 with
 * `wsrep_on=OFF` and `sql_log_bin=0` in the loading sessions (nothing replicates or goes to
 * the binary log), as 128 MiB InnoDB tables of random bytes over 4 schemas. Every exit path
 * (end, error, SIGINT, SIGTERM) tears down the cluster and the namespaces.
 *
 * Needs root, `deno task build` (the task does it), mariadb-server, galera-4, socat, rsync,
 * stunnel4.
 *
 * @module
 */
import { chownMysql, Cluster, type Node, type NodeExtra } from "../test/e2e/cluster.ts";
import { NetnsLab, probeNetns } from "../test/e2e/netns.ts";
import { LAUNCHER_DIR, requireLauncher } from "../test/e2e/support/launcher.ts";
import { type Ca, type Leaf, makeCa, makeLeaf } from "../test/support/pki.ts";
import { denoAdapter, run, sleep } from "../src/proc/process.ts";
import { VERSION } from "../src/core/version.ts";
import { treeBytes, treeFiles, versionOf } from "./bench_common.ts";

// ---------------------------------------------------------------------------------------------
// options

interface Method {
  key: string;
  label: string;
  /** wsrep_sst_method on the joiner. */
  sstMethod: string;
  /** `[sst]` lines of both nodes (TLS files added by `tls`). */
  sst: string[];
  tls: boolean;
  /** Extra lines for stock: ssl-mode. */
  stock: boolean;
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([MmGg]?)(?:i?B)?$/.exec(s.trim());
  if (!m) throw new Error(`bad size '${s}' (e.g. 256M, 1G, 4096)`);
  return Math.round(Number(m[1]) * (/g/i.test(m[2]) ? 1024 : 1));
}

function optionValues(name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < Deno.args.length; i++) {
    if (Deno.args[i] === name && i + 1 < Deno.args.length) out.push(Deno.args[++i]);
    else if (Deno.args[i].startsWith(`${name}=`)) out.push(Deno.args[i].slice(name.length + 1));
  }
  return out;
}

const KNOWN = ["--sizes", "--runs", "--methods", "--variant", "--link", "--keep", "--cpu"];
for (const a of Deno.args) {
  if (a.startsWith("--") && !KNOWN.includes(a.split("=")[0])) {
    console.error(`unknown option ${a}; see the top of scripts/bench.ts`);
    Deno.exit(2);
  }
}
const sizesMiB = (optionValues("--sizes").at(-1) ?? "1G,4G").split(",").map(parseSize)
  .sort((a, b) => a - b);
const runs = Number(optionValues("--runs").at(-1) ?? "3");
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs needs a positive integer");
const link = optionValues("--link").at(-1) ?? "fast";
if (link !== "fast" && link !== "slow") throw new Error("--link is fast or slow");
const keep = Deno.args.includes("--keep");
const cpuReport = Deno.args.includes("--cpu");
if (keep) Deno.env.set("E2E_KEEP", "1"); // the cluster's teardown keeps its files

const BASE: Record<string, Method> = {
  plain: {
    key: "plain",
    label: "rsync (plaintext)",
    sstMethod: "rsync",
    sst: [],
    tls: false,
    stock: true,
  },
  stunnel: {
    key: "stunnel",
    label: "rsync+stunnel (TLS)",
    sstMethod: "rsync",
    sst: ["ssl-mode=VERIFY_CA"],
    tls: true,
    stock: true,
  },
  tunnel: {
    key: "tunnel",
    label: "rsync_tunnel (TLS)",
    sstMethod: "rsync_tunnel",
    sst: [],
    tls: true,
    stock: false,
  },
};
const methods: Method[] = (optionValues("--methods").at(-1) ?? "plain,stunnel,tunnel").split(",")
  .map((k) => {
    const m = BASE[k.trim()];
    if (!m) throw new Error(`unknown method '${k}' (plain, stunnel, tunnel)`);
    return m;
  });
for (const v of optionValues("--variant")) {
  const colon = v.indexOf(":");
  if (colon < 1) throw new Error(`--variant '${v}': write label:key=value[;key=value]`);
  const label = v.slice(0, colon);
  methods.push({
    key: `tunnel-${label}`,
    label: `rsync_tunnel ${label}`,
    sstMethod: "rsync_tunnel",
    sst: v.slice(colon + 1).split(";").filter((s) => s.includes("=")),
    tls: true,
    stock: false,
  });
}

// ---------------------------------------------------------------------------------------------
// /proc sampling

const TICKS = 100; // USER_HZ on Linux

function uptime(): number {
  return Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
}

interface Stat {
  pid: number;
  comm: string;
  /** Start time in seconds since boot. */
  start: number;
  rssKiB: number;
  /** User + system CPU seconds so far. */
  cpu: number;
}

function stat(pid: number): Stat | null {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const close = s.lastIndexOf(")");
    const comm = s.slice(s.indexOf("(") + 1, close);
    const f = s.slice(close + 2).split(" ");
    // fields after comm: state(0) ppid(1) … starttime(19) vsize(20) rss(21, pages)
    const cpu = (Number(f[11]) + Number(f[12])) / TICKS;
    return { pid, comm, start: Number(f[19]) / TICKS, rssKiB: Number(f[21]) * 4, cpu };
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
      if (text) out.push(...text.split(" ").map(Number));
    }
  } catch { /* gone */ }
  return out;
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  const todo = childrenOf(pid);
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...childrenOf(p));
  }
  return out;
}

/** True if `pid`'s network namespace has a TCP socket listening on `port`. */
function listensOn(pid: number, port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")} `;
  for (const f of ["tcp", "tcp6"]) {
    try {
      for (const l of Deno.readTextFileSync(`/proc/${pid}/net/${f}`).split("\n")) {
        const cols = l.trim().split(/\s+/);
        if (cols[1]?.endsWith(hex.trim()) && cols[3] === "0A") return true;
      }
    } catch { /* gone */ }
  }
  return false;
}

interface RunSample {
  sstSeconds: number;
  readySeconds: number;
  donorSeconds: number;
  peakRssMiB: number;
  peakDenoRssMiB: number;
  /** CPU seconds of the SST processes (both nodes) by command name, as last seen. */
  cpuByCommand: Record<string, number>;
}

/** Watches the SST processes of both nodes while node2 joins; stop() returns the figures. */
function watchSst(joiner: Node, donor: Node): { stop(): Promise<RunSample> } {
  let running = true;
  let joinerScript: Stat | null = null;
  let joinerEnd = 0;
  let ready = 0;
  let donorScript: Stat | null = null;
  let donorEnd = 0;
  let peak = 0;
  let peakDeno = 0;
  const cpu = new Map<number, { comm: string; cpu: number }>();
  const loop = (async () => {
    while (running) {
      const now = uptime();
      const jKids = joiner.pid ? childrenOf(joiner.pid).map(stat).filter((s) => s !== null) : [];
      const dKids = donor.pid ? childrenOf(donor.pid).map(stat).filter((s) => s !== null) : [];
      if (!joinerScript && jKids.length > 0) joinerScript = jKids[0];
      if (joinerScript && !joinerEnd && !jKids.some((k) => k.pid === joinerScript!.pid)) {
        joinerEnd = now;
      }
      if (joinerScript && !ready && joiner.pid && listensOn(joiner.pid, 4444)) ready = now;
      if (!donorScript && dKids.length > 0) donorScript = dKids[0];
      if (donorScript && !donorEnd && !dKids.some((k) => k.pid === donorScript!.pid)) {
        donorEnd = now;
      }
      let rss = 0;
      let rssDeno = 0;
      for (const root of [joiner.pid, donor.pid]) {
        if (!root) continue;
        for (const p of descendants(root)) {
          const s = stat(p);
          if (!s) continue;
          rss += s.rssKiB;
          cpu.set(p, { comm: s.comm, cpu: s.cpu });
          if (s.comm === "deno") rssDeno += s.rssKiB;
        }
      }
      peak = Math.max(peak, rss);
      peakDeno = Math.max(peakDeno, rssDeno);
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (!joinerScript || !joinerEnd) throw new Error("did not see the joiner's SST script");
      return {
        sstSeconds: joinerEnd - joinerScript.start,
        readySeconds: ready ? ready - joinerScript.start : NaN,
        donorSeconds: donorScript && donorEnd ? donorEnd - donorScript.start : NaN,
        peakRssMiB: peak / 1024,
        peakDenoRssMiB: peakDeno / 1024,
        cpuByCommand: [...cpu.values()].reduce((acc, { comm, cpu }) => {
          acc[comm] = (acc[comm] ?? 0) + cpu;
          return acc;
        }, {} as Record<string, number>),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// data

/** Bytes of the benchmark schemas' files in a datadir. */
function benchBytes(datadir: string): number {
  let n = 0;
  for (const e of Deno.readDirSync(datadir)) {
    if (e.isDirectory && e.name.startsWith("bench")) n += treeBytes(`${datadir}/${e.name}`);
  }
  return n;
}

const SCHEMAS = 4;
const TABLE_ROWS = 16_384; // 7 KiB of random bytes each: ~128 MiB per table on disk
const CHUNK_ROWS = 2048;

/**
 * Reads every file of the donor's datadir once. InnoDB writes its tables with O_DIRECT, so
 * after the load they are not in the page cache: without this the first run of a size reads
 * them from disk, and only that run.
 */
function warmCache(dir: string): void {
  const buf = new Uint8Array(1 << 20);
  for (const path of treeFiles(dir)) {
    using f = Deno.openSync(path);
    while ((f.readSync(buf) ?? 0) > 0) { /* read to the end */ }
  }
}

/** MiB of page cache still to be written to disk (`Dirty` + `Writeback` in /proc/meminfo). */
function unwrittenMiB(): number {
  const info = Deno.readTextFileSync("/proc/meminfo");
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(info)?.[1] ?? 0);
  return (kib("Dirty") + kib("Writeback")) / 1024;
}

/**
 * Every run starts with the disk idle: the previous SST (or the load) left gigabytes of dirty
 * pages, and their writeback would otherwise take CPU from whichever method runs next.
 */
async function settleWriteback(): Promise<void> {
  const deadline = Date.now() + 300_000;
  await run(denoAdapter, { cmd: "sync", args: [] }, { timeoutMs: 300_000 });
  while (unwrittenMiB() > 32 && Date.now() < deadline) await sleep(200);
  await sleep(1000);
}

/** Adds 128 MiB tables on `node` until its datadir holds `mib` MiB. */
async function growData(cluster: Cluster, node: Node, mib: number, next: { table: number }) {
  const cols = Array.from({ length: 7 }, (_, i) => `c${i} VARBINARY(1024) NOT NULL`).join(", ");
  const values = Array.from({ length: 7 }, () => "RANDOM_BYTES(1024)").join(", ");
  const started = Date.now();
  for (let s = 1; s <= SCHEMAS; s++) {
    await cluster.sql(node, `CREATE DATABASE IF NOT EXISTS bench${s}`);
  }
  const loadTable = async (t: number) => {
    const name = `bench${(t % SCHEMAS) + 1}.t${t}`;
    const stmts = ["SET SESSION wsrep_on=OFF", "SET SESSION sql_log_bin=0"];
    stmts.push(`CREATE TABLE ${name} (id INT PRIMARY KEY, ${cols}) ENGINE=InnoDB`);
    for (let r = 0; r < TABLE_ROWS; r += CHUNK_ROWS) {
      stmts.push(
        `INSERT INTO ${name} SELECT seq, ${values} FROM bench1.seq_${r + 1}_to_${r + CHUNK_ROWS}`,
      );
    }
    await cluster.sql(node, stmts.join(";\n"), 600_000);
  };
  while (treeBytes(node.datadir) < mib * 1048576) {
    const need = mib * 1048576 - treeBytes(node.datadir);
    const batch = need > 200 * 1048576 ? 2 : 1; // two sessions: both cores generate
    await Promise.all(Array.from({ length: batch }, () => loadTable(next.table++)));
  }
  await cluster.sql(node, "FLUSH TABLES");
  console.log(
    `  loaded: datadir ${(treeBytes(node.datadir) / 1048576).toFixed(0)} MiB, ${next.table} ` +
      `tables (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
}

// ---------------------------------------------------------------------------------------------
// cluster

interface Pki {
  ca: Ca;
  leaves: Map<string, Leaf>;
}

function nodeExtra(pki: Pki, node: Node, m: Method): NodeExtra {
  const leaf = pki.leaves.get(node.name)!;
  const tls = m.tls ? [`tca=${pki.ca.cert}`, `tcert=${leaf.cert}`, `tkey=${leaf.key}`] : [];
  return {
    mysqld: [`wsrep_sst_method=${m.sstMethod}`],
    groups: { sst: [...tls, ...m.sst] },
  };
}

/** Shapes both hosts' egress: 200 Mbit/s, plus 5 ms delay each way if netem exists. */
async function slowLink(lab: NetnsLab): Promise<string> {
  const netem = ["root", "netem", "rate", "200mbit", "delay", "5ms", "limit", "10000"];
  const tbf = ["root", "tbf", "rate", "200mbit", "burst", "256kb", "latency", "50ms"];
  let how = "netem 200 Mbit/s, 5 ms each way (10 ms RTT)";
  for (const h of lab.hosts) {
    let r = await lab.exec(h.name, "tc", ["qdisc", "replace", "dev", "eth0", ...netem]);
    if (r.code !== 0) {
      how = "tbf 200 Mbit/s each way (no netem in this kernel: no added delay)";
      r = await lab.exec(h.name, "tc", ["qdisc", "replace", "dev", "eth0", ...tbf]);
    }
    if (r.code !== 0) throw new Error(`tc in ${h.name}: ${r.stderr}`);
  }
  return how;
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Row extends RunSample {
  sizeMiB: number;
  datadirMiB: number;
  method: string;
  round: number;
}

// ---------------------------------------------------------------------------------------------
// main

const skip = await probeNetns();
if (skip) {
  console.error(`bench: cannot build network namespaces: ${skip}`);
  Deno.exit(2);
}
await requireLauncher();

let lab: NetnsLab | null = null;
let cluster: Cluster | null = null;
let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    if (cluster) {
      await cluster.teardown().catch((e) => console.error(`cluster teardown: ${e}`));
    }
    if (lab) {
      const killed = await lab.teardown().catch((e) => [`lab teardown failed: ${e}`]);
      if (killed.length > 0) console.error(`lab teardown: ${killed.join("; ")}`);
    }
  })();
  return cleaning;
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.addSignalListener(sig, () => {
    console.error(`\n${sig}: cleaning up …`);
    cleanup().finally(() => Deno.exit(130));
  });
}

const rows: Row[] = [];
const t0 = Date.now();
let linkText = "fast (veth pair over a bridge)";
try {
  lab = await NetnsLab.create(["node1", "node2"], { prefix: "bench-" });
  if (link === "slow") linkText = await slowLink(lab);
  const theLab = lab;
  let pki: Pki | null = null;
  cluster = await Cluster.create({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    placement: (name) => ({ host: name, standardPorts: true, wrap: theLab.wrap(name) }),
    configure: async (node, c) => {
      if (!pki) {
        const dir = `${c.root}/pki`;
        await Deno.mkdir(dir, { recursive: true });
        const ca = await makeCa(dir, "bench-ca");
        const leaves = new Map<string, Leaf>();
        for (const n of ["node1", "node2"]) {
          leaves.set(n, await makeLeaf(dir, ca, n, { cn: n, sans: [`DNS:${n}`] }));
        }
        await chownMysql(dir);
        pki = { ca, leaves };
      }
      return nodeExtra(pki, node, BASE.tunnel);
    },
  });
  const c = cluster;
  const [n1, n2] = [c.node(1), c.node(2)];
  console.log(`cluster in ${c.root}; link: ${linkText}`);
  c.start(n1, { newCluster: true });
  await c.waitSynced(n1);
  c.start(n2);
  await c.waitSynced(n2);
  const next = { table: 0 };
  for (const size of sizesMiB) {
    console.log(`\n== ${size} MiB ==`);
    await growData(c, n1, size, next);
    warmCache(n1.datadir);
    const expected = benchBytes(n1.datadir);
    const datadirMiB = treeBytes(n1.datadir) / 1048576;
    /** One full SST of node2 with method m, checked. */
    const sstOnce = async (m: Method): Promise<RunSample> => {
      await c.stop(n2);
      await c.wipe(n2);
      await c.writeConfig(n1, nodeExtra(pki!, n1, m));
      await c.writeConfig(n2, nodeExtra(pki!, n2, m));
      await settleWriteback();
      const watch = watchSst(n2, n1);
      let sample: RunSample;
      try {
        c.start(n2);
        await c.waitSynced(n2, 120_000 + size * 200);
      } finally {
        sample = await watch.stop();
      }
      const got = benchBytes(n2.datadir);
      if (c.joinType(n2) !== "SST" || got !== expected) {
        throw new Error(
          `${m.label}: node2 did not get a full SST (join ${c.joinType(n2)}, ` +
            `${got} of ${expected} table bytes)`,
        );
      }
      return sample;
    };
    // One uncounted SST first: even with the files cached and the disk idle, the first transfer
    // after the load ran about 20 % slower than the same method later, whichever method ran it.
    const warm = await sstOnce(methods[0]);
    console.log(`  warm-up ${methods[0].label}: ${warm.sstSeconds.toFixed(2)} s (not counted)`);
    for (let round = 1; round <= runs; round++) {
      // rotate the order each round: no method always runs first or after the same one
      const order = methods.map((_, i) => methods[(i + round - 1) % methods.length]);
      for (const m of order) {
        const sample = await sstOnce(m);
        rows.push({ ...sample, sizeMiB: size, datadirMiB, method: m.key, round });
        console.log(
          `  round ${round} ${m.label.padEnd(24)} SST ${sample.sstSeconds.toFixed(2)} s ` +
            `(${(datadirMiB / sample.sstSeconds).toFixed(0)} MiB/s), ready ` +
            `${sample.readySeconds.toFixed(2)} s, donor ${sample.donorSeconds.toFixed(2)} s, ` +
            `peak RSS ${sample.peakRssMiB.toFixed(0)} MiB (Deno ` +
            `${sample.peakDenoRssMiB.toFixed(0)})`,
        );
        if (cpuReport) {
          const byComm = Object.entries(sample.cpuByCommand).sort((a, b) => b[1] - a[1]);
          console.log(
            `      CPU s: ${byComm.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`,
          );
        }
      }
    }
  }
} finally {
  await cleanup();
}

// ---------------------------------------------------------------------------------------------
// report

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "—");
console.log(
  `\n${runs} interleaved run(s) per method and size, median; link: ${linkText}; ` +
    `${navigator.hardwareConcurrency} CPUs; total ${((Date.now() - t0) / 60000).toFixed(1)} min\n`,
);
console.log(
  "| datadir | method | SST s (median) | runs s | MiB/s | × rsync | × rsync+stunnel | ready s | " +
    "peak RSS MiB (all SST processes / Deno) |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
for (const size of sizesMiB) {
  const of = (key: string) => rows.filter((r) => r.sizeMiB === size && r.method === key);
  const plain = median(of("plain").map((r) => r.sstSeconds));
  const stunnel = median(of("stunnel").map((r) => r.sstSeconds));
  for (const m of methods) {
    const rs = of(m.key);
    if (rs.length === 0) continue;
    const sec = median(rs.map((r) => r.sstSeconds));
    const mib = rs[0].datadirMiB;
    console.log(
      `| ${mib.toFixed(0)} MiB | ${m.label} | ${f(sec)} | ` +
        `${rs.map((r) => f(r.sstSeconds)).join(", ")} | ${f(mib / sec, 0)} | ` +
        `${m.key === "plain" ? "1.00" : f(sec / plain)} | ` +
        `${m.key === "stunnel" ? "1.00" : f(sec / stunnel)} | ` +
        `${f(median(rs.map((r) => r.readySeconds)))} | ` +
        `${f(Math.max(...rs.map((r) => r.peakRssMiB)), 0)} / ` +
        `${f(Math.max(...rs.map((r) => r.peakDenoRssMiB)), 0)} |`,
    );
  }
}
console.log("");
console.log(`wsrep_sst_rsync_tunnel ${VERSION}; deno ${Deno.version.deno}`);
console.log(versionOf("socat", ["-V"], /version/));
console.log(versionOf("rsync", ["--version"]));
console.log(versionOf("stunnel", ["-version"], /stunnel/i));
console.log(versionOf("openssl", ["version"]));
console.log(versionOf("/usr/sbin/mariadbd", ["--version"]));
