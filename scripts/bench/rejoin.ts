/**
 * `deno task bench:rejoin`: what a joining node costs with our defaults, beside stock `rsync_wan`
 * and beside our own whole-file transfer, in three scenarios run by one command (issue 27):
 *
 * - `slow-old` — slow link (200 Mbit/s, see lab.ts `slowLink`), old joiner: stock `rsync`, stock
 *   `rsync_wan`, ours with its defaults (`delta=auto`). Reference: `rsync_wan`; goals: ours sends
 *   at most 1.05 × its bytes in at most 1.10 × its time.
 * - `fast-old` — fast link (the veth pair, unshaped), old joiner: ours with its defaults, ours with
 *   whole files (`[sst] delta=off`: what an old joiner got before `delta=auto` chose from what the
 *   joiner holds), stock `rsync_wan` and `rsync` for reference. Reference: whole files; goal: ours
 *   never slower (SST seconds ≤ 1.00 × theirs).
 * - `fast-empty` — fast link, empty joiner (node2's datadir wiped, as bench:stall does): ours with
 *   its defaults, ours with `delta=off` (what an empty joiner got before: "today"), stock `rsync`.
 *   Reference: `delta=off`; goal: no slower (SST seconds ≤ 1.05 × theirs: when ours chooses whole
 *  files both run the same transfer, and 5 % is left for run-to-run noise).
 *
 * Each scenario states its link; before each of its runs the link is shaped so and both hosts'
 * root qdisc is checked (lab.ts `shapeLink`), so the scenarios can follow one another in one run.
 * The runs of one scenario are interleaved (round r starts with its r-th method). Measured per
 * run: seconds and the bytes node1 sent to node2, from the kernel's counters of node1's `eth0`
 * (not rsync's report; Galera's own traffic during the join is included, and it is tiny), and
 * what our donor chose (`delta transfer on|off` in its log).
 *
 * Old joiner: node2 got a copy by one SST, was stopped cleanly, and 5 % of the rows changed on
 * node1 meanwhile; node2 then starts on its old datadir and must join by SST (no IST possible).
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
 * Every old-joiner run starts from the same state on both nodes: both datadirs are restored from
 * copies (`cp -a`) made right after the first SST (both nodes stopped), node1 is bootstrapped on
 * its copy, and the same rows change (new random bytes, same sizes). Without node1's copy its
 * redo, undo and binary logs drifted from run to run, so the runs of one method did not start
 * from the same state as those of another. Every empty-joiner run restores node1 alone from its
 * copy (no rows changed) and wipes node2's datadir.
 *
 *     deno task bench:rejoin                                   # 768 MiB, all three scenarios
 *     deno task bench:rejoin --size 128M                       # quick check
 *     deno task bench:rejoin --scenarios slow-old --tunnel-sst 'delta=on;precopy=off' --runs 2
 *
 * Options: `--size` (default 768M), `--runs N` (default 1), `--scenarios
 * slow-old,fast-old,fast-empty` (default all, run in the order given), `--patterns runs,spread`
 * (old joiners), `--methods` (keep only these of each scenario's methods: `plain`, `wan`,
 * `tunnel`, `tunnel-delta-off`), `--tunnel-sst 'key=value;…'` (ours' `[sst]` lines; the
 * whole-file method gets them too, its `delta` set to `off`), `--variant label:key=value;…` (added
 * to every scenario), `--keep`.
 *
 * @module
 */
import { denoAdapter, run } from "../../src/proc/process.ts";
import { treeBytes } from "../bench_common.ts";
import { BenchArgs, parseSize, sstLines } from "./options.ts";
import { type Method, METHODS, variantMethod, withSst } from "./methods.ts";
import { type Bench, type BenchSetup, type Link, linkBytes, shapeLink, withBench } from "./lab.ts";
import type { Node } from "../lib/cluster.ts";
import { type ChangePattern, changeRows, growData, type Tables, warmCache } from "./data.ts";
import { joinOnce, type JoinSample, wipeNode2 } from "./join.ts";
import { fmt, median, printTable, printVersions, summaryLine } from "./report.ts";

const KNOWN = [
  "--size",
  "--runs",
  "--scenarios",
  "--patterns",
  "--methods",
  "--tunnel-sst",
  "--variant",
  "--keep",
];
const args = new BenchArgs(Deno.args, KNOWN, "scripts/bench/rejoin.ts");
const sizeMiB = parseSize(args.last("--size", "768M"));
const runs = args.count("--runs", 1);
const patterns = args.list("--patterns", "runs,spread").map((p) => {
  if (p !== "runs" && p !== "spread") throw new Error(`--patterns: runs or spread, not '${p}'`);
  return p as ChangePattern;
});
const tunnelSst = sstLines(args.last("--tunnel-sst", ""));
/** Ours as configured (no `[sst]` line by default: `delta=auto`). */
const ours = withSst(METHODS.tunnel, tunnelSst);
/** Ours with whole files: what every joiner got before `delta=auto` looked at what it holds. */
const wholeFiles: Method = {
  ...withSst(METHODS.tunnel, [...tunnelSst.filter((l) => !/^delta\s*=/.test(l)), "delta=off"]),
  key: "tunnel-delta-off",
};
const byKey: Record<string, Method> = {
  plain: METHODS.plain,
  wan: METHODS.wan,
  tunnel: ours,
  "tunnel-delta-off": wholeFiles,
};
const onlyMethods = args.values("--methods").length > 0 ? args.list("--methods", "") : null;
for (const k of onlyMethods ?? []) {
  if (!byKey[k]) throw new Error(`--methods: '${k}' is not one of ${Object.keys(byKey)}`);
}
const variants = args.values("--variant").map(variantMethod);
// node1 forgets its write sets at restart (see the module documentation)
const setup: BenchSetup = {
  link: "fast",
  keep: args.flag("--keep"),
  donorProviderOptions: ["gcache.recover=no"],
};

/** Which node2 joins: one on its old datadir, or one with an empty datadir. */
type Joiner = "old" | "empty";

/** One scenario of the run: a link, a joiner, its methods and the method its ratios divide by. */
interface Scenario {
  key: string;
  title: string;
  link: Link;
  joiner: Joiner;
  methods: Method[];
  /** Key of the reference method. */
  reference: string;
  /** Short name of the reference in the table's headings. */
  referenceName: string;
  /** Upper bounds of ours ÷ reference (issue 27); `bytes` only where the issue bounds them. */
  bounds: { sst: number; bytes?: number };
  /** What the SST bound means, for the goal line. */
  meaning: string;
}

const SCENARIOS: Record<string, Omit<Scenario, "key" | "methods"> & { keys: string[] }> = {
  "slow-old": {
    title: "slow link, old joiner",
    link: "slow",
    joiner: "old",
    keys: ["plain", "wan", "tunnel"],
    reference: "wan",
    referenceName: "rsync_wan",
    bounds: { sst: 1.10, bytes: 1.05 },
    meaning: "",
  },
  "fast-old": {
    title: "fast link, old joiner",
    link: "fast",
    joiner: "old",
    keys: ["tunnel", "tunnel-delta-off", "wan", "plain"],
    reference: "tunnel-delta-off",
    referenceName: "whole files",
    bounds: { sst: 1.0 },
    meaning: "never slower than whole files",
  },
  "fast-empty": {
    title: "fast link, empty joiner",
    link: "fast",
    joiner: "empty",
    keys: ["tunnel", "tunnel-delta-off", "plain"],
    reference: "tunnel-delta-off",
    referenceName: "delta=off",
    // With auto choosing whole files both run the same transfer: 5 % for run-to-run noise.
    bounds: { sst: 1.05 },
    meaning: "no slower than today's delta=off, the same transfer when ours chooses delta off",
  },
};

const scenarios: Scenario[] = args.list("--scenarios", Object.keys(SCENARIOS).join(",")).map(
  (key) => {
    const s = SCENARIOS[key];
    if (!s) throw new Error(`--scenarios: '${key}' is not one of ${Object.keys(SCENARIOS)}`);
    const keys = s.keys.filter((k) => onlyMethods === null || onlyMethods.includes(k));
    return { ...s, key, methods: [...keys.map((k) => byKey[k]), ...variants] };
  },
).filter((s) => s.methods.length > 0);

interface Row {
  scenario: string;
  /** The changed rows' pattern; null for an empty joiner (nothing to compare against). */
  pattern: ChangePattern | null;
  method: string;
  round: number;
  sst: JoinSample;
  /** Bytes node1 sent (tx of its eth0) from just before node2 started until it was Synced. */
  sent: number;
  /** Bytes node1 received meanwhile (what node2 sent: requests, rsync's checksums). */
  received: number;
  /** What our donor logged: `on` or `off` (delta transfer), `—` for stock methods. */
  delta: string;
}

/** Where a node's datadir as it was after the first SST is kept between runs. */
const savedDir = (n: Node) => `${n.dir}/data.saved`;

async function sh(cmd: string, args: string[]): Promise<void> {
  const r = await run(denoAdapter, { cmd, args }, { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
}

/**
 * The datadirs of `nodes` as they were after the first SST, node1 running again (bootstrapped):
 * every run starts from the same state (node1's redo log, undo and binary logs would otherwise
 * drift from run to run, and the later methods of a round would have more to send).
 */
async function restore(b: Bench, nodes: Node[]): Promise<void> {
  await b.cluster.stop(b.n1);
  for (const n of nodes) {
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

/** The `prepare` step of a join: node2 on its old datadir after `pattern`'s changes, or empty. */
function prepareJoiner(b: Bench, tables: Tables, pattern: ChangePattern | null) {
  return async () => {
    if (pattern === null) {
      await restore(b, [b.n1]);
      warmCache(b.n1.datadir);
      await wipeNode2(b)();
    } else {
      await restore(b, [b.n1, b.n2]);
      await changeDonor(b, tables, pattern);
    }
  };
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

/** What our donor chose, from its log line `delta transfer on|off (…)`; `—` if it said nothing. */
function deltaChoice(donorLog: string): string {
  return [...donorLog.matchAll(/delta transfer (on|off) \(/g)].at(-1)?.[1] ?? "—";
}

/** One join of node2 with method `m` in scenario `sc` (the link shaped and checked first). */
async function joinRun(
  b: Bench,
  sc: Scenario,
  m: Method,
  tables: Tables,
  pattern: ChangePattern | null,
) {
  await shapeLink(b.lab, sc.link);
  const link = { sent: NaN, received: NaN };
  const sst = await joinOnce(b, m, setup, {
    prepare: prepareJoiner(b, tables, pattern),
    timeoutMs: 120_000 + sizeMiB * 1000,
    during: () => countLink(b, link),
  });
  await checkSame(b, m, tables);
  return { sst, ...link, delta: deltaChoice(sst.donorLog) };
}

/** Loads the data, makes node2's old copy by one SST (fast link) and keeps both datadirs. */
async function prepareOldCopy(b: Bench, tables: Tables): Promise<void> {
  await growData(b.cluster, b.n1, sizeMiB, tables);
  if (tables.next === 0) throw new Error(`--size ${sizeMiB}M loaded no bench table: ask more`);
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
}

const patternText = (p: ChangePattern | null) => p ?? "— (empty joiner)";

/** Logs a run; `wall` is its seconds from restoring the datadirs until node2 was checked. */
function logRun(r: Row, m: Method, wall: number): void {
  console.log(
    `  ${patternText(r.pattern)} round ${r.round} ${m.label.padEnd(24)} SST ` +
      `${fmt(r.sst.sstSeconds)} s, join ${fmt(r.sst.joinSeconds)} s, node1 sent ` +
      `${fmt(r.sent / 1048576, 1)} MiB, received ${fmt(r.received / 1048576, 1)} MiB, our ` +
      `delta: ${r.delta} (run ${fmt(wall, 0)} s with restore)`,
  );
}

/** The interleaved rounds of one scenario; returns its link in words. */
async function runScenario(b: Bench, sc: Scenario, tables: Tables, rows: Row[]): Promise<string> {
  const linkText = await shapeLink(b.lab, sc.link);
  console.log(`\n== ${sc.title} (${sc.key}); link: ${linkText} ==`);
  for (const pattern of sc.joiner === "old" ? patterns : [null]) {
    for (let round = 1; round <= runs; round++) {
      const order = sc.methods.map((_, i) => sc.methods[(i + round - 1) % sc.methods.length]);
      for (const m of order) {
        const t0 = performance.now();
        const r = await joinRun(b, sc, m, tables, pattern);
        const row = { ...r, scenario: sc.key, pattern, method: m.key, round };
        rows.push(row);
        logRun(row, m, (performance.now() - t0) / 1000);
      }
    }
  }
  return linkText;
}

async function bench(b: Bench, rows: Row[]): Promise<Map<string, string>> {
  const tables: Tables = { next: 0 };
  await prepareOldCopy(b, tables);
  console.log(`  datadir ${(treeBytes(b.n1.datadir) / 1048576).toFixed(0)} MiB`);
  const links = new Map<string, string>();
  for (const sc of scenarios) links.set(sc.key, await runScenario(b, sc, tables, rows));
  return links;
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

function tableRow(m: Method, rs: Row[], ref: ReturnType<typeof medians>): string[] {
  const x = medians(rs);
  const mib = (n: number) => fmt(n / 1048576, 1);
  return [
    patternText(rs[0].pattern),
    m.label,
    [...new Set(rs.map((r) => r.delta))].join(", "),
    fmt(x.sst),
    rs.map((r) => fmt(r.sst.sstSeconds)).join(", "),
    fmt(x.join),
    mib(x.sent),
    rs.map((r) => mib(r.sent)).join(", "),
    mib(x.received),
    fmt(x.sent / ref.sent),
    fmt(x.sst / ref.sst),
  ];
}

/** The rows of scenario `sc`, method `key` and `pattern`. */
function rowsOf(rows: Row[], sc: Scenario, key: string, pattern: ChangePattern | null): Row[] {
  return rows.filter((r) => r.scenario === sc.key && r.method === key && r.pattern === pattern);
}

/** The goal lines of issue 27 for scenario `sc`: ours against its reference, per pattern. */
function goals(rows: Row[], sc: Scenario): string[] {
  const out: string[] = [];
  const ok = (v: number, bound: number) => v <= bound ? "met" : "NOT met";
  for (const p of sc.joiner === "old" ? patterns : [null]) {
    const ref = medians(rowsOf(rows, sc, sc.reference, p));
    const mine = rowsOf(rows, sc, "tunnel", p);
    if (mine.length === 0 || !Number.isFinite(ref.sst)) continue;
    const x = medians(mine);
    const [sst, bytes] = [x.sst / ref.sst, x.sent / ref.sent];
    const chose = [...new Set(mine.map((r) => r.delta))].join(", ");
    const theirs = possessive(sc.referenceName);
    const sstGoal = `SST ${fmt(sst)} × ${theirs} seconds (goal ≤ ` +
      `${fmt(sc.bounds.sst)}${sc.meaning ? `, ${sc.meaning}` : ""}: ${ok(sst, sc.bounds.sst)})`;
    const bytesGoal = sc.bounds.bytes === undefined
      ? `sent ${fmt(bytes)} × ${theirs} bytes`
      : `sent ${fmt(bytes)} × ${theirs} bytes (goal ≤ ${fmt(sc.bounds.bytes)}: ` +
        `${ok(bytes, sc.bounds.bytes)})`;
    out.push(
      `${sc.key}${p ? ` ${p}` : ""}: ${ours.label} (delta ${chose}) ${bytesGoal}, ${sstGoal}`,
    );
  }
  return out;
}

/** `rsync_wan's`, `whole files'`. */
const possessive = (name: string) => name.endsWith("s") ? `${name}'` : `${name}'s`;

const HEADERS = (ref: string) => [
  "changed rows",
  "method",
  "our delta",
  "SST s (median)",
  "runs s",
  "join s",
  "MiB node1→node2 (median)",
  "runs MiB",
  "MiB node2→node1",
  `bytes × ${possessive(ref)}`,
  `SST × ${possessive(ref)}`,
];

function report(rows: Row[], links: Map<string, string>, t0: number): void {
  console.log(
    `\n${summaryLine(runs, "per scenario, below", t0)}; ${sizeMiB} MiB loaded; old joiners: ` +
      `5 % of the rows changed`,
  );
  for (const sc of scenarios) {
    console.log(`\n${sc.title} (${sc.key}); link: ${links.get(sc.key) ?? "—"}\n`);
    const lines: string[][] = [];
    for (const p of sc.joiner === "old" ? patterns : [null]) {
      const ref = medians(rowsOf(rows, sc, sc.reference, p));
      for (const m of sc.methods) {
        const rs = rowsOf(rows, sc, m.key, p);
        if (rs.length > 0) lines.push(tableRow(m, rs, ref));
      }
    }
    printTable(HEADERS(sc.referenceName), lines);
    const g = goals(rows, sc);
    if (g.length > 0) console.log("");
    for (const line of g) console.log(line);
  }
  printVersions();
}

const rows: Row[] = [];
const t0 = Date.now();
const links = await withBench(setup, (b) => bench(b, rows));
report(rows, links, t0);
