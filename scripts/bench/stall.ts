/**
 * `deno task bench:stall`: how long each method stops the donor's writes. As in the throughput
 * scenario (scripts/bench/throughput.ts) node2 is wiped and joins by a full SST, again and
 * again; during every join a writer on node1 (scripts/bench/writer.ts) inserts one row every
 * 50 ms with autocommit and notes each commit's return. The longest gap between two commits is
 * how long the donor could not write. Our donor also logs `donor writes blocked for N s`
 * (node1's error log), shown as a second figure.
 *
 * Methods (default): `plain` (stock rsync), `stunnel` (stock rsync + stunnel), `mariabackup`
 * (stock mariabackup, TLS through socat), `tunnel-precopy-off` and `tunnel-precopy-on` (ours
 * with `[sst] precopy=off|on`). Runs are interleaved, with one uncounted warm-up SST per size
 * (no writer), as in the throughput scenario.
 *
 *     deno task bench:stall                              # 1 GiB and 4 GiB, 1 run each
 *     deno task bench:stall --sizes 128M --runs 1        # quick check
 *     deno task bench:stall --sizes 4G --runs 2
 *
 * Options: `--sizes 1G,4G`, `--runs N` (default 1), `--methods …`, `--variant
 * label:key=value[;…]`, `--link fast|slow`, `--keep`, as in the throughput scenario; `--fresh`
 * measures right after loading the tables, without letting them cool first (see
 * {@link letDataCool}).
 *
 * The table gives, per method and size: SST seconds (joiner's script), join seconds (node2's
 * start to Synced), the longest gap (median over runs), the donor's own figure, and the ratios
 * of issue 15: stall ÷ stock rsync's stall, SST ÷ mariabackup's SST, SST ÷ rsync+stunnel's SST.
 *
 * **A real OLTP load and real file systems** (issue 24):
 *
 *     deno task bench:stall --load sysbench --fs xfs --data 1G:1G,0:4G
 *     deno task bench:stall --load sysbench --fs ext4 --data 0:96M --runs 1   # quick check
 *
 * - `--load none|sysbench` (default `none`: only the writer). With `sysbench`, node1 holds the
 *   data sets of `--data cold:hot[,…]` (sizes such as `1G:1G,0:4G`, the default), each loaded
 *   from none: cold = the tables above, cooled; hot = sysbench `oltp_write_only` tables
 *   (scripts/bench/hot_load.ts), written at 100 transactions/s on uniformly random rows from
 *   before the data set's warm-up SST until after its last SST. If sysbench ends or fails
 *   meanwhile, the bench fails. `--sizes` is for `--load none` only. The default methods are
 *   then `plain,mariabackup,tunnel,tunnel-clone-off` (ours with `[sst] clone=auto`, the
 *   default, and `clone=off`).
 * - `--fs host|xfs|btrfs|ext4` (default `host`: the datadirs where the cluster is): both nodes'
 *   datadirs on sparse loop-mounted images of that type (XFS `-m reflink=1`;
 *   scripts/lib/loop_fs.ts), each four times the largest data set plus 8 GiB (the datadir also holds the
 *   binary logs of the load, about as much again as the tables), made by the bench and
 *   removed at its end, also on failure (`--keep` leaves them mounted). Needs root and the
 *   type's mkfs.
 * - `--joiner-fs same|tmpfs` (with `--fs`; default `same`): `tmpfs` puts node2's datadir on a
 *   tmpfs instead, so that the joiner's writes do not share the donor's disk (here both images
 *   live on one disk, where the joiner's writes slowed the donor's own fsyncs: stops of the
 *   donor's writes in the middle of the transfer that two hosts would not have).
 * - `--donor-trx-commit 0|1|2` (default: the clusters' 2): node1's
 *   `innodb_flush_log_at_trx_commit`, set once the cluster runs (`SET GLOBAL`); what mariadbd's
 *   own flush under `flush tables` takes depends on it (docs/benchmarks.md).
 * - `--binlog on|off` (default `on`, as in the test clusters): binary logging (`log_bin`) on
 *   both nodes. With it on, mariadbd's flush under `flush tables` rotates the binary log and
 *   waits until InnoDB has made the old file's commits durable (docs/benchmarks.md).
 * - `--provider-options 'key=value;…'` (default none): extra `wsrep_provider_options` of both
 *   nodes, e.g. `evs.join_retrans_period=PT0.1S;evs.inactive_check_period=PT0.1S`, which shorten
 *   the stop of Galera's view change as node2 joins (docs/benchmarks.md).
 * - Every stop of the writer over 0.15 s is placed against the donor's SST script: `before` it
 *   started (node2 joining the group: Galera's view change, the same for every method), while it
 *   ran (`sst`: the lock is among these), or `after` (node2 catching up); the table gives the
 *   longest stop while the script ran beside the longest outside it.
 *
 * With `--load sysbench` the table gives, per data set and method: SST s, the longest write gap,
 * and for ours the split our donor logs (`donor writes blocked for N s (mariadbd's flush M s,
 * clones K s for F files, locked pass P s)` and the locked pass's `compared X, sent Y in Z s`):
 * mariadbd's flush, the clones (files), the locked pass, what it compared and sent, and our
 * own part (blocked − mariadbd's flush); ratios gap ÷ mariabackup's gap and SST ÷ plaintext
 * rsync's SST; then the goals of issue 24 (stop ≤ 0.3 s and ≤ mariabackup's, SST ≤ 1.1 ×
 * rsync's).
 *
 * @module
 */
import { treeBytes } from "../bench_common.ts";
import { BenchArgs, type DataSet, parseDataSets } from "./options.ts";
import { type Method, pickMethods } from "./methods.ts";
import { type Bench, type BenchSetup, withBench } from "./lab.ts";
import { growData, type Tables, warmCache } from "./data.ts";
import { donorBlocked, joinOnce, lockSplit, slowClones, wipeNode2 } from "./join.ts";
import { createWriterTable, startWriter, type WriterResult } from "./writer.ts";
import { fmt, printTable, printVersions, summaryLine } from "./report.ts";
import { dataSetLabel, HOT_RATE, loadDataSet } from "./hot_load.ts";
import { type SysbenchResult, type SysbenchRun, sysbenchRun } from "../lib/sysbench.ts";
import { LOOP_FS_TYPES, loopIoText, MKFS } from "../lib/loop_fs.ts";
import { describeGaps, medians, type Row, sysbenchReport } from "./stall_split.ts";

const KNOWN = [
  "--sizes",
  "--runs",
  "--methods",
  "--variant",
  "--link",
  "--keep",
  "--fresh",
  "--load",
  "--data",
  "--fs",
  "--joiner-fs",
  "--donor-trx-commit",
  "--binlog",
  "--provider-options",
];
const args = new BenchArgs(Deno.args, KNOWN, "scripts/bench/stall.ts");
const load = args.choice("--load", ["none", "sysbench"] as const);
const DEFAULT_METHODS = load === "sysbench"
  ? "plain,mariabackup,tunnel,tunnel-clone-off"
  : "plain,stunnel,mariabackup,tunnel-precopy-off,tunnel-precopy-on";
if (load === "sysbench" ? args.flag("--sizes") : args.values("--data").length > 0) {
  throw new Error("--data goes with --load sysbench, --sizes without it");
}
/** The data sets: `--data` under sysbench; else one per `--sizes` (MiB of datadir, no hot). */
const dataSets: DataSet[] = load === "sysbench"
  ? parseDataSets(args.last("--data", "1G:1G,0:4G"))
  : args.sizes("1G,4G").map((mib) => ({ coldMiB: mib, hotMiB: 0 }));
const runs = args.count("--runs", 1);
const methods = pickMethods(args.list("--methods", DEFAULT_METHODS), args.values("--variant"));
const fsType = args.choice("--fs", ["host", ...LOOP_FS_TYPES] as const);
const largestMiB = Math.max(...dataSets.map((d) => d.coldMiB + d.hotMiB));
const joinerFs = args.choice("--joiner-fs", ["same", "tmpfs"] as const);
const trxCommit = args.choice("--donor-trx-commit", ["2", "1", "0"] as const);
if (joinerFs === "tmpfs" && fsType === "host") throw new Error("--joiner-fs tmpfs goes with --fs");
const setup: BenchSetup = {
  link: args.link("fast"),
  keep: args.flag("--keep"),
  fs: fsType === "host" ? undefined : { type: fsType, mib: 4 * largestMiB + 8192 },
  joinerTmpfs: joinerFs === "tmpfs",
  binlog: args.choice("--binlog", ["on", "off"] as const) === "on",
  providerOptions: providerOptions(args.last("--provider-options", "")),
};

/** `--provider-options 'k=v;k=v'`: Galera options for both nodes, each checked as `key=value`. */
function providerOptions(text: string): string[] {
  const entries = text.split(";").map((e) => e.trim()).filter((e) => e !== "");
  for (const e of entries) {
    if (!/^[a-z_.]+=[A-Za-z0-9_.:]+$/.test(e)) {
      throw new Error(`--provider-options: ${JSON.stringify(e)} is not key=value`);
    }
  }
  return entries;
}

/** One SST of node2 from nothing with a writer on node1 during it (and sysbench, if `hot`). */
async function stallRun(b: Bench, m: Method, sizeMiB: number, hot: SysbenchRun | null) {
  let writer: WriterResult | null = null;
  const sst = await joinOnce(b, m, setup, {
    prepare: wipeNode2(b),
    timeoutMs: 120_000 + sizeMiB * 400,
    during: () => {
      const w = startWriter(b.n1);
      return Promise.resolve({ stop: async () => void (writer = await w.stop()) });
    },
  });
  const w = writer as WriterResult | null;
  if (!w || w.error) throw new Error(`${m.label}: the writer failed: ${w?.error ?? "no result"}`);
  sysbenchAlive(hot, `during the SST of ${m.label}`);
  const split = lockSplit(sst.donorLog);
  return { sst, writer: w, donorBlocked: donorBlocked(sst.donorLog), split };
}

/** Fails the bench when sysbench ended (it must run throughout the data set's SSTs). */
function sysbenchAlive(hot: SysbenchRun | null, when: string): void {
  const ended = hot?.ended();
  if (ended) throw new Error(`the load failed ${when}: ${ended}`);
}

function logRun(round: number, m: Method, r: Omit<Row, "set" | "datadirMiB" | "method">) {
  const s = r.split;
  const split = s
    ? ` (flush ${fmt(s.flush)} s${Number.isFinite(s.clones) ? `, clones ${fmt(s.clones)} s` : ""}` +
      `${Number.isFinite(s.lockedPass) ? `, locked pass ${fmt(s.lockedPass)} s` : ""})`
    : "";
  console.log(
    `  round ${round} ${m.label.padEnd(22)} SST ${fmt(r.sst.sstSeconds)} s, join ` +
      `${fmt(r.sst.joinSeconds)} s, longest write gap ${fmt(r.writer.longestGap)} s ` +
      `(${r.writer.rows} rows), donor log: blocked ${fmt(r.donorBlocked)} s${split}; ` +
      `stops against the donor's script: ${describeGaps(r)}`,
  );
  const slow = slowClones(r.sst.donorLog);
  if (slow) console.log(`    ${slow}`);
}

/** Loads data set `i` (cumulative `--sizes`, or from none under sysbench) and cools it. */
async function loadSet(b: Bench, i: number, tables: Tables) {
  const set = dataSets[i];
  if (load === "none") await growData(b.cluster, b.n1, set.coldMiB, tables);
  const shape = load === "sysbench" ? await loadDataSet(b, set, tables) : null;
  if (!args.flag("--fresh")) await letDataCool(b);
  warmCache(b.n1.datadir);
  return shape;
}

/** Loads data set `i`, warms up, and runs its interleaved rounds (under sysbench, if asked). */
async function benchSet(b: Bench, i: number, tables: Tables, rows: Row[]): Promise<void> {
  const set = dataSets[i];
  const size = set.coldMiB + set.hotMiB;
  console.log(`\n== ${load === "sysbench" ? dataSetLabel(set) : `${size} MiB`} ==`);
  const shape = await loadSet(b, i, tables);
  const datadirMiB = treeBytes(b.n1.datadir) / 1048576;
  const hot = shape && sysbenchRun(b.n1, shape, HOT_RATE, 24 * 3600);
  let done: SysbenchResult | undefined;
  try {
    const warm = await joinOnce(b, methods[0], setup, {
      prepare: wipeNode2(b),
      timeoutMs: 120_000 + size * 400,
    });
    console.log(`  warm-up ${methods[0].label}: ${fmt(warm.sstSeconds)} s (not counted)`);
    sysbenchAlive(hot, "during the warm-up SST");
    for (let round = 1; round <= runs; round++) {
      const order = methods.map((_, j) => methods[(j + round - 1) % methods.length]);
      for (const m of order) {
        const r = { ...(await stallRun(b, m, size, hot)), round };
        rows.push({ ...r, set: i, datadirMiB, method: m.key });
        logRun(round, m, r);
      }
    }
  } finally {
    done = await hot?.stop(); // the load is stopped on every path
  }
  if (done?.error) throw new Error(`the load failed: ${done.error}`);
  if (done) console.log(`  sysbench wrote in ${done.busySeconds} s of this data set's SSTs`);
}

/** Longer than the pre-copy record's margin for writes in flight (precopy_record.ts). */
const COOL_MS = 61_000;

/**
 * Lets the loaded tables go cold, as most tables of a production donor are: InnoDB writes out
 * its dirty pages (innodb_max_dirty_pages_pct=0 until none is left, bounded), then 61 s pass.
 * A file written in the last 60 s is always compared by the locked pass after a pre-copy, so
 * without this every table just loaded would be (`--fresh` measures that case).
 */
async function letDataCool(b: Bench): Promise<void> {
  const c = b.cluster;
  const t0 = Date.now();
  const [[pct]] = await c.sql(b.n1, "SELECT @@GLOBAL.innodb_max_dirty_pages_pct");
  await c.sql(b.n1, "SET GLOBAL innodb_max_dirty_pages_pct = 0");
  try {
    for (let dirty = Infinity; dirty > 0;) {
      if (Date.now() - t0 > 300_000) throw new Error("InnoDB kept dirty pages for 300 s");
      await new Promise((r) => setTimeout(r, 500));
      const [[, n]] = await c.sql(b.n1, "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'");
      dirty = Number(n);
    }
  } finally {
    await c.sql(b.n1, `SET GLOBAL innodb_max_dirty_pages_pct = ${Number(pct)}`);
  }
  await new Promise((r) => setTimeout(r, COOL_MS));
  console.log(
    `  tables cooled: dirty pages written, then ${COOL_MS / 1000} s (${
      fmt((Date.now() - t0) / 1000)
    } s)`,
  );
}

type Refs = { plain: number; stunnel: number; mariabackup: number };

function tableRow(m: Method, rs: Row[], refs: Refs): string[] {
  const x = medians(rs);
  return [
    `${rs[0].datadirMiB.toFixed(0)} MiB`,
    m.label,
    fmt(x.sst),
    rs.map((r) => fmt(r.sst.sstSeconds)).join(", "),
    fmt(x.join),
    fmt(x.stall),
    rs.map((r) => fmt(r.writer.longestGap)).join(", "),
    fmt(x.logged, 1),
    fmt(x.stall / refs.plain),
    fmt(x.sst / refs.mariabackup),
    fmt(x.sst / refs.stunnel),
  ];
}

/** The "done when" lines of issue 15 for our methods at the largest size. */
function goals(rows: Row[], set: number): string[] {
  const of = (key: string) => medians(rows.filter((r) => r.set === set && r.method === key));
  const [plain, stunnel, mb] = [of("plain"), of("stunnel"), of("mariabackup")];
  const out: string[] = [];
  const datadir = `${rows.find((r) => r.set === set)?.datadirMiB.toFixed(0)} MiB datadir`;
  for (const m of methods.filter((m) => m.sstMethod === "rsync_tunnel")) {
    const x = of(m.key);
    const check = (v: number, max: number) =>
      `${fmt(v)} (goal ≤ ${max}: ${v <= max ? "met" : "NOT met"})`;
    out.push(
      `${datadir}, ${m.label}: stall ÷ rsync's ${check(x.stall / plain.stall, 0.3)}; ` +
        `SST ÷ mariabackup's ${check(x.sst / mb.sst, 0.6)}; SST ÷ rsync+stunnel's ` +
        check(x.sst / stunnel.sst, 1.3),
    );
  }
  return out;
}

function report(rows: Row[], linkText: string, t0: number): void {
  console.log(`\n${summaryLine(runs, linkText, t0)}; writer: one row every 50 ms\n`);
  const lines: string[][] = [];
  for (let set = 0; set < dataSets.length; set++) {
    const of = (key: string) => rows.filter((r) => r.set === set && r.method === key);
    const ref = (key: string) => medians(of(key));
    const refs = {
      plain: ref("plain").stall,
      stunnel: ref("stunnel").sst,
      mariabackup: ref("mariabackup").sst,
    };
    for (const m of methods) if (of(m.key).length > 0) lines.push(tableRow(m, of(m.key), refs));
  }
  printTable([
    "datadir",
    "method",
    "SST s (median)",
    "runs s",
    "join s",
    "longest write gap s (median)",
    "runs gap s",
    "donor log: blocked s",
    "gap × rsync's",
    "SST × mariabackup's",
    "SST × rsync+stunnel's",
  ], lines);
  console.log("");
  for (const line of goals(rows, dataSets.length - 1)) console.log(line);
  printVersions();
}

/** The file system of the datadirs, in words (and mkfs's options). */
function fsText(): string {
  if (fsType === "host") return "the host's (where the cluster is)";
  const images = `${fsType} loop images of ${setup.fs!.mib} MiB (sparse), ` +
    `\`${MKFS[fsType].join(" ")}\`, ${loopIoText()}`;
  return joinerFs === "tmpfs"
    ? `node1: one of the ${images}; node2: a tmpfs (the joiner's writes off the donor's disk)`
    : images;
}

const rows: Row[] = [];
const t0 = Date.now();
console.log(
  `datadirs' file system: ${fsText()}; node1's innodb_flush_log_at_trx_commit=${trxCommit}; ` +
    `binary log ${setup.binlog ? "on" : "off"}` +
    (setup.providerOptions!.length
      ? `; both nodes' extra wsrep_provider_options: ${setup.providerOptions!.join(";")}`
      : ""),
);
const linkText = await withBench(setup, async (b) => {
  await createWriterTable(b.cluster, b.n1);
  await b.cluster.sql(b.n1, `SET GLOBAL innodb_flush_log_at_trx_commit=${trxCommit}`);
  const tables: Tables = { next: 0 };
  for (let i = 0; i < dataSets.length; i++) await benchSet(b, i, tables, rows);
  return b.linkText;
});
if (load === "sysbench") {
  const head = `${summaryLine(runs, linkText, t0)}; file system: ${fsText()}`;
  sysbenchReport({ rows, methods, dataSets, head });
  printVersions();
} else report(rows, linkText, t0);
