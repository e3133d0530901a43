/**
 * `deno task bench:rejoin`: a node that comes back with its old datadir after the donor's gcache
 * rolled over, on the slow link. node2 got a copy by one SST, was stopped cleanly, and 5 % of
 * the rows changed on node1 meanwhile; node2 then starts on its old datadir and must join by SST
 * (no IST possible). Measured per method: seconds and the bytes node1 sent to node2, from the
 * kernel's counters of node1's `eth0` (not rsync's report; Galera's own traffic during the join
 * is included, and it is tiny).
 *
 * Patterns of the changed rows (both by default, `--patterns`): `runs` — runs of 64 neighbouring
 * primary keys, one run every 1280 rows; `spread` — every 20th row. Every table is changed, in
 * replicated transactions of 16 rows, while node2 is down.
 *
 * Forcing SST: after the changes node1 is restarted (cleanly, bootstrapping the cluster again)
 * with `gcache.recover=no` (set on node1), so Galera drops its gcache at start and the donor
 * holds no write set from before — the state of a donor whose gcache rolled over — while node2
 * keeps its `grastate.dat` and asks for IST as a real returning node does. A small gcache alone
 * did not do it here: with `gcache.size=1M` and `gcache.page_size=1M` Galera 26.4 kept every
 * write set of the changes in overflow pages and served IST. Removing node2's grastate.dat would
 * force SST too, but would make node2 a node of unknown state instead. Each run checks that the
 * join was an SST and that both nodes' `bench*` tables have equal checksums.
 *
 * Every run starts from the same state on both nodes: both datadirs are restored from copies
 * (`cp -a`) made right after the first SST (both nodes stopped), node1 is bootstrapped on its
 * copy, and the same rows change (new random bytes, same sizes). Without node1's copy its redo,
 * undo and binary logs drifted from run to run, so the runs of one method did not start from the
 * same state as those of another.
 *
 * Methods (default `plain,wan,tunnel`): stock `rsync`, stock `rsync_wan`, and ours with the
 * `[sst]` lines of `--tunnel-sst` (default none: `delta=auto`, which compares against node2's
 * old copy; more variants with `--variant`).
 *
 *     deno task bench:rejoin                                   # 768 MiB, slow link, 1 run
 *     deno task bench:rejoin --size 128M                       # quick check
 *     deno task bench:rejoin --tunnel-sst 'delta=on;precopy=off' --runs 2
 *
 * Options: `--size` (default 768M), `--runs N` (default 1), `--patterns runs,spread`,
 * `--methods plain,wan,tunnel`, `--tunnel-sst 'key=value;…'`, `--variant label:key=value;…`,
 * `--link slow|fast` (default slow; the first copy is made on the fast link), `--keep`.
 *
 * @module
 */
import { denoAdapter, run } from "../../src/proc/process.ts";
import { treeBytes } from "../bench_common.ts";
import { BenchArgs, parseSize, sstLines } from "./options.ts";
import { type Method, METHODS, pickMethods, withSst } from "./methods.ts";
import { type Bench, type BenchSetup, linkBytes, slowLink, withBench } from "./lab.ts";
import type { Node } from "../lib/cluster.ts";
import { type ChangePattern, changeRows, growData, type Tables, warmCache } from "./data.ts";
import { joinOnce, type JoinSample, wipeNode2 } from "./join.ts";
import { fmt, median, printTable, printVersions, summaryLine } from "./report.ts";

const KNOWN = [
  "--size",
  "--runs",
  "--patterns",
  "--methods",
  "--tunnel-sst",
  "--variant",
  "--link",
  "--keep",
];
const args = new BenchArgs(Deno.args, KNOWN, "scripts/bench/rejoin.ts");
const sizeMiB = parseSize(args.last("--size", "768M"));
const runs = args.count("--runs", 1);
const patterns = args.list("--patterns", "runs,spread").map((p) => {
  if (p !== "runs" && p !== "spread") throw new Error(`--patterns: runs or spread, not '${p}'`);
  return p as ChangePattern;
});
const link = args.link("slow");
const ours = withSst(METHODS.tunnel, sstLines(args.last("--tunnel-sst", "")));
const methods = pickMethods(args.list("--methods", "plain,wan,tunnel"), args.values("--variant"))
  .map((m) => m.key === "tunnel" ? ours : m);
// node1 forgets its write sets at restart (see the module documentation)
const setup: BenchSetup = {
  link: "fast",
  keep: args.flag("--keep"),
  donorProviderOptions: ["gcache.recover=no"],
};

interface Row {
  pattern: ChangePattern;
  method: string;
  round: number;
  sst: JoinSample;
  /** Bytes node1 sent (tx of its eth0) from just before node2 started until it was Synced. */
  sent: number;
  /** Bytes node1 received meanwhile (what node2 sent: requests, rsync's checksums). */
  received: number;
}

/** Where a node's datadir as it was after the first SST is kept between runs. */
const savedDir = (n: Node) => `${n.dir}/data.saved`;

async function sh(cmd: string, args: string[]): Promise<void> {
  const r = await run(denoAdapter, { cmd, args }, { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
}

/**
 * Both datadirs as they were after the first SST, node1 running again: every run starts from
 * the same state on both nodes (node1's redo log, undo and binary logs would otherwise drift
 * from run to run, and the later methods of a round would have more to send).
 */
async function restoreBoth(b: Bench): Promise<void> {
  await b.cluster.stop(b.n1);
  for (const n of [b.n1, b.n2]) {
    await b.cluster.wipe(n);
    await sh("cp", ["-a", `${savedDir(n)}/.`, n.datadir]);
  }
  b.cluster.start(b.n1, { newCluster: true });
  await b.cluster.waitSynced(b.n1);
}

/**
 * node1 with only this run's changes in its binary log (rotate, purge the older logs), the rows
 * changed (replicated write sets), then restarted: its gcache then holds nothing from before.
 */
async function changeDonor(b: Bench, tables: Tables, pattern: ChangePattern): Promise<void> {
  const c = b.cluster;
  await c.sql(b.n1, "FLUSH BINARY LOGS");
  const [[current]] = await c.sql(b.n1, "SHOW MASTER STATUS");
  await c.sql(b.n1, `PURGE BINARY LOGS TO '${current}'`);
  await changeRows(c, b.n1, tables, pattern);
  // A slow shutdown purges the changes' undo logs before node1 starts again, so no purge runs
  // during the SST. Without it, rsync_wan's ibdata1 alone cost 15.0 to 21.3 MB from run to run
  // (rsync's per-file log); with it, 15.0 MB in both runs measured.
  await c.sql(b.n1, "SET GLOBAL innodb_fast_shutdown = 0");
  await c.stop(b.n1);
  c.start(b.n1, { newCluster: true });
  await c.waitSynced(b.n1);
  warmCache(b.n1.datadir); // InnoDB wrote the changed pages with O_DIRECT
}

/** Counts node1's link bytes from the call until `stop()`. */
async function countLink(b: Bench, into: { sent: number; received: number }) {
  const before = await linkBytes(b.lab, "node1");
  return {
    async stop() {
      const after = await linkBytes(b.lab, "node1");
      [into.sent, into.received] = [after.tx - before.tx, after.rx - before.rx];
    },
  };
}

/** Fails unless both nodes' bench tables have the same checksums. */
async function checkSame(b: Bench, m: Method, tables: Tables): Promise<void> {
  const schemas = ["bench1", "bench2", "bench3", "bench4"].slice(0, Math.min(4, tables.next));
  const [a, c] = [
    await b.cluster.checksums(b.n1, schemas),
    await b.cluster.checksums(b.n2, schemas),
  ];
  const differ = Object.keys(a).filter((t) => a[t] !== c[t]);
  if (differ.length > 0) throw new Error(`${m.label}: node2's tables differ: ${differ.join(", ")}`);
}

/** One re-join of node2 on its old datadir with method `m`, after this pattern's changes. */
async function rejoinRun(b: Bench, m: Method, tables: Tables, pattern: ChangePattern) {
  const link = { sent: NaN, received: NaN };
  const sst = await joinOnce(b, m, setup, {
    prepare: async () => {
      await restoreBoth(b);
      await changeDonor(b, tables, pattern);
    },
    timeoutMs: 120_000 + sizeMiB * 1000,
    during: () => countLink(b, link),
  });
  await checkSame(b, m, tables);
  return { sst, ...link };
}

/** Loads the data, makes node2's old copy by one SST, keeps it, then shapes the link. */
async function prepareOldCopy(b: Bench, tables: Tables): Promise<string> {
  await growData(b.cluster, b.n1, sizeMiB, tables);
  warmCache(b.n1.datadir);
  const first = await joinOnce(b, METHODS.tunnel, setup, {
    prepare: wipeNode2(b),
    timeoutMs: 120_000 + sizeMiB * 200,
  });
  console.log(`  node2's old copy made by ${METHODS.tunnel.label}: ${fmt(first.sstSeconds)} s`);
  await b.cluster.stop(b.n2);
  await b.cluster.stop(b.n1);
  for (const n of [b.n1, b.n2]) await sh("cp", ["-a", n.datadir, savedDir(n)]);
  b.cluster.start(b.n1, { newCluster: true });
  await b.cluster.waitSynced(b.n1);
  return link === "slow" ? await slowLink(b.lab) : b.linkText;
}

function logRun(r: Row, m: Method): void {
  console.log(
    `  ${r.pattern} round ${r.round} ${m.label.padEnd(24)} SST ${fmt(r.sst.sstSeconds)} s, join ` +
      `${fmt(r.sst.joinSeconds)} s, node1 sent ${fmt(r.sent / 1048576, 1)} MiB, received ` +
      `${fmt(r.received / 1048576, 1)} MiB`,
  );
}

async function bench(b: Bench, rows: Row[]): Promise<string> {
  const tables: Tables = { next: 0 };
  const linkText = await prepareOldCopy(b, tables);
  console.log(`  datadir ${(treeBytes(b.n1.datadir) / 1048576).toFixed(0)} MiB; link: ${linkText}`);
  for (const pattern of patterns) {
    for (let round = 1; round <= runs; round++) {
      const order = methods.map((_, i) => methods[(i + round - 1) % methods.length]);
      for (const m of order) {
        const r = { ...(await rejoinRun(b, m, tables, pattern)), pattern, method: m.key, round };
        rows.push(r);
        logRun(r, m);
      }
    }
  }
  return linkText;
}

/** Medians of one method and pattern. */
function medians(rs: Row[]) {
  return {
    sst: median(rs.map((r) => r.sst.sstSeconds)),
    join: median(rs.map((r) => r.sst.joinSeconds)),
    sent: median(rs.map((r) => r.sent)),
    received: median(rs.map((r) => r.received)),
  };
}

function tableRow(m: Method, rs: Row[], wan: ReturnType<typeof medians>): string[] {
  const x = medians(rs);
  const mib = (n: number) => fmt(n / 1048576, 1);
  return [
    rs[0].pattern,
    m.label,
    fmt(x.sst),
    rs.map((r) => fmt(r.sst.sstSeconds)).join(", "),
    fmt(x.join),
    mib(x.sent),
    rs.map((r) => mib(r.sent)).join(", "),
    mib(x.received),
    fmt(x.sent / wan.sent),
    fmt(x.sst / wan.sst),
  ];
}

/** The "done when" lines of issue 15: ours against stock rsync_wan, per pattern. */
function goals(rows: Row[]): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    const wan = medians(rows.filter((r) => r.pattern === p && r.method === "wan"));
    const x = medians(rows.filter((r) => r.pattern === p && r.method === "tunnel"));
    const ok = (v: number) => v <= 1 ? "met" : "NOT met";
    out.push(
      `${p}: ${ours.label} sent ${fmt(x.sent / wan.sent)} × rsync_wan's bytes (goal ≤ 1: ` +
        `${ok(x.sent / wan.sent)}), SST ${fmt(x.sst / wan.sst)} × its seconds (goal ≤ 1: ` +
        `${ok(x.sst / wan.sst)})`,
    );
  }
  return out;
}

function report(rows: Row[], linkText: string, t0: number): void {
  console.log(
    `\n${summaryLine(runs, linkText, t0)}; ${sizeMiB} MiB loaded, 5 % of the rows changed\n`,
  );
  const lines: string[][] = [];
  for (const p of patterns) {
    const of = (key: string) => rows.filter((r) => r.pattern === p && r.method === key);
    const wan = medians(of("wan"));
    for (const m of methods) if (of(m.key).length > 0) lines.push(tableRow(m, of(m.key), wan));
  }
  printTable([
    "changed rows",
    "method",
    "SST s (median)",
    "runs s",
    "join s",
    "MiB node1→node2 (median)",
    "runs MiB",
    "MiB node2→node1",
    "bytes × rsync_wan's",
    "SST × rsync_wan's",
  ], lines);
  console.log("");
  if (methods.some((m) => m.key === "wan") && methods.some((m) => m.key === "tunnel")) {
    for (const line of goals(rows)) console.log(line);
  }
  printVersions();
}

const rows: Row[] = [];
const t0 = Date.now();
const linkText = await withBench(setup, (b) => bench(b, rows));
report(rows, linkText, t0);
