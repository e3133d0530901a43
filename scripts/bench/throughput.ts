/**
 * `deno task bench`: the throughput scenario of the real-cluster benchmark (not a test). node1
 * holds incompressible InnoDB tables (scripts/bench/data.ts); node2 is wiped and joins by a full
 * SST, again and again, with each method (scripts/bench/methods.ts; default `plain`, `stunnel`,
 * `tunnel`).
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
 * Options: `--sizes 1G,4G` (MiB without suffix), `--runs N`, `--methods plain,stunnel,tunnel`
 * (also `mariabackup`, `wan`, `tunnel-precopy-off`, `tunnel-precopy-on`), `--variant
 * label:key=value[;key=value]` (repeatable; an `rsync_tunnel` method with these `[sst]` keys),
 * `--cpu` (per run: CPU seconds of the SST processes by command, a rough profile), `--link
 * fast|slow` (slow: 200 Mbit/s each way, plus 5 ms delay each way where the kernel has netem),
 * `--keep` (keep the cluster files).
 *
 * Measured per run: see scripts/bench/watch.ts. Each run is checked: node2 reports an SST and
 * holds as many table bytes as node1. Needs root, `deno task build` (the task does it),
 * mariadb-server, galera-4, socat, rsync, stunnel4 (mariadb-backup for `mariabackup`).
 *
 * @module
 */
import { treeBytes } from "../bench_common.ts";
import { BenchArgs } from "./options.ts";
import { type Method, pickMethods } from "./methods.ts";
import { type Bench, type BenchSetup, withBench } from "./lab.ts";
import { growData, type Tables, warmCache } from "./data.ts";
import { joinOnce, wipeNode2 } from "./join.ts";
import type { RunSample } from "./watch.ts";
import { fmt, median, printTable, printVersions, summaryLine } from "./report.ts";

const KNOWN = ["--sizes", "--runs", "--methods", "--variant", "--link", "--keep", "--cpu"];
const args = new BenchArgs(Deno.args, KNOWN, "scripts/bench/throughput.ts");
const sizesMiB = args.sizes("1G,4G");
const runs = args.count("--runs", 3);
const cpuReport = args.flag("--cpu");
const methods = pickMethods(
  args.list("--methods", "plain,stunnel,tunnel"),
  args.values("--variant"),
);
const setup: BenchSetup = { link: args.link("fast"), keep: args.flag("--keep") };

interface Row extends RunSample {
  sizeMiB: number;
  datadirMiB: number;
  method: string;
  round: number;
}

/** One full SST of node2 from an empty datadir with method `m`. */
function sstOnce(b: Bench, m: Method, sizeMiB: number): Promise<RunSample> {
  return joinOnce(b, m, setup, { prepare: wipeNode2(b), timeoutMs: 120_000 + sizeMiB * 200 });
}

function logRun(round: number, m: Method, s: RunSample, datadirMiB: number): void {
  console.log(
    `  round ${round} ${m.label.padEnd(24)} SST ${s.sstSeconds.toFixed(2)} s ` +
      `(${(datadirMiB / s.sstSeconds).toFixed(0)} MiB/s), ready ${s.readySeconds.toFixed(2)} s, ` +
      `donor ${s.donorSeconds.toFixed(2)} s, peak RSS ${s.peakRssMiB.toFixed(0)} MiB (Deno ` +
      `${s.peakDenoRssMiB.toFixed(0)})`,
  );
  if (!cpuReport) return;
  const byComm = Object.entries(s.cpuByCommand).sort((a, b) => b[1] - a[1]);
  console.log(`      CPU s: ${byComm.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`);
}

/** Loads `size` MiB, warms up, and runs the interleaved rounds of that size. */
async function benchSize(b: Bench, size: number, tables: Tables, rows: Row[]): Promise<void> {
  console.log(`\n== ${size} MiB ==`);
  await growData(b.cluster, b.n1, size, tables);
  warmCache(b.n1.datadir);
  const datadirMiB = treeBytes(b.n1.datadir) / 1048576;
  // One uncounted SST first: even with the files cached and the disk idle, the first transfer
  // after the load ran about 20 % slower than the same method later, whichever method ran it.
  const warm = await sstOnce(b, methods[0], size);
  console.log(`  warm-up ${methods[0].label}: ${warm.sstSeconds.toFixed(2)} s (not counted)`);
  for (let round = 1; round <= runs; round++) {
    // rotate the order each round: no method always runs first or after the same one
    const order = methods.map((_, i) => methods[(i + round - 1) % methods.length]);
    for (const m of order) {
      const sample = await sstOnce(b, m, size);
      rows.push({ ...sample, sizeMiB: size, datadirMiB, method: m.key, round });
      logRun(round, m, sample, datadirMiB);
    }
  }
}

/** The table row of method `m` at one size (null if it did not run). */
function tableRow(m: Method, rs: Row[], plain: number, stunnel: number): string[] | null {
  if (rs.length === 0) return null;
  const sec = median(rs.map((r) => r.sstSeconds));
  const mib = rs[0].datadirMiB;
  return [
    `${mib.toFixed(0)} MiB`,
    m.label,
    fmt(sec),
    rs.map((r) => fmt(r.sstSeconds)).join(", "),
    fmt(mib / sec, 0),
    m.key === "plain" ? "1.00" : fmt(sec / plain),
    m.key === "stunnel" ? "1.00" : fmt(sec / stunnel),
    fmt(median(rs.map((r) => r.readySeconds))),
    `${fmt(Math.max(...rs.map((r) => r.peakRssMiB)), 0)} / ` +
    `${fmt(Math.max(...rs.map((r) => r.peakDenoRssMiB)), 0)}`,
  ];
}

function report(rows: Row[], linkText: string, t0: number): void {
  console.log(`\n${summaryLine(runs, linkText, t0)}\n`);
  const lines: string[][] = [];
  for (const size of sizesMiB) {
    const of = (key: string) => rows.filter((r) => r.sizeMiB === size && r.method === key);
    const plain = median(of("plain").map((r) => r.sstSeconds));
    const stunnel = median(of("stunnel").map((r) => r.sstSeconds));
    for (const m of methods) lines.push(...[tableRow(m, of(m.key), plain, stunnel) ?? []]);
  }
  printTable([
    "datadir",
    "method",
    "SST s (median)",
    "runs s",
    "MiB/s",
    "× rsync",
    "× rsync+stunnel",
    "ready s",
    "peak RSS MiB (all SST processes / Deno)",
  ], lines.filter((l) => l.length > 0));
  printVersions();
}

const rows: Row[] = [];
const t0 = Date.now();
const linkText = await withBench(setup, async (b) => {
  const tables: Tables = { next: 0 };
  for (const size of sizesMiB) await benchSize(b, size, tables, rows);
  return b.linkText;
});
report(rows, linkText, t0);
