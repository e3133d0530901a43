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
 * @module
 */
import { treeBytes } from "../bench_common.ts";
import { BenchArgs } from "./options.ts";
import { type Method, pickMethods } from "./methods.ts";
import { type Bench, type BenchSetup, withBench } from "./lab.ts";
import { growData, type Tables, warmCache } from "./data.ts";
import { donorBlocked, joinOnce, type JoinSample, wipeNode2 } from "./join.ts";
import { createWriterTable, startWriter, type WriterResult } from "./writer.ts";
import { fmt, median, printTable, printVersions, summaryLine } from "./report.ts";

const KNOWN = ["--sizes", "--runs", "--methods", "--variant", "--link", "--keep", "--fresh"];
const DEFAULT_METHODS = "plain,stunnel,mariabackup,tunnel-precopy-off,tunnel-precopy-on";
const args = new BenchArgs(Deno.args, KNOWN, "scripts/bench/stall.ts");
const sizesMiB = args.sizes("1G,4G");
const runs = args.count("--runs", 1);
const methods = pickMethods(args.list("--methods", DEFAULT_METHODS), args.values("--variant"));
const setup: BenchSetup = { link: args.link("fast"), keep: args.flag("--keep") };

interface Row {
  sizeMiB: number;
  datadirMiB: number;
  method: string;
  round: number;
  sst: JoinSample;
  writer: WriterResult;
  /** `donor writes blocked for N s` from node1's log (NaN when absent: stock methods). */
  donorBlocked: number;
}

/** One SST of node2 from nothing with a writer on node1 during it. */
async function stallRun(b: Bench, m: Method, sizeMiB: number) {
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
  return { sst, writer: w, donorBlocked: donorBlocked(sst.donorLog) };
}

function logRun(round: number, m: Method, r: Omit<Row, "sizeMiB" | "datadirMiB" | "method">) {
  console.log(
    `  round ${round} ${m.label.padEnd(22)} SST ${fmt(r.sst.sstSeconds)} s, join ` +
      `${fmt(r.sst.joinSeconds)} s, longest write gap ${fmt(r.writer.longestGap)} s ` +
      `(${r.writer.rows} rows), donor log: blocked ${fmt(r.donorBlocked, 1)} s`,
  );
}

/** Loads `size` MiB, warms up, and runs the interleaved rounds of that size. */
async function benchSize(b: Bench, size: number, tables: Tables, rows: Row[]): Promise<void> {
  console.log(`\n== ${size} MiB ==`);
  await growData(b.cluster, b.n1, size, tables);
  if (!args.flag("--fresh")) await letDataCool(b);
  warmCache(b.n1.datadir);
  const datadirMiB = treeBytes(b.n1.datadir) / 1048576;
  const warm = await joinOnce(b, methods[0], setup, {
    prepare: wipeNode2(b),
    timeoutMs: 120_000 + size * 400,
  });
  console.log(`  warm-up ${methods[0].label}: ${fmt(warm.sstSeconds)} s (not counted)`);
  for (let round = 1; round <= runs; round++) {
    const order = methods.map((_, i) => methods[(i + round - 1) % methods.length]);
    for (const m of order) {
      const r = { ...(await stallRun(b, m, size)), round };
      rows.push({ ...r, sizeMiB: size, datadirMiB, method: m.key });
      logRun(round, m, r);
    }
  }
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

/** Medians of one method at one size. */
function medians(rs: Row[]) {
  return {
    sst: median(rs.map((r) => r.sst.sstSeconds)),
    join: median(rs.map((r) => r.sst.joinSeconds)),
    stall: median(rs.map((r) => r.writer.longestGap)),
    logged: median(rs.map((r) => r.donorBlocked)),
  };
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
function goals(rows: Row[], size: number): string[] {
  const of = (key: string) => medians(rows.filter((r) => r.sizeMiB === size && r.method === key));
  const [plain, stunnel, mb] = [of("plain"), of("stunnel"), of("mariabackup")];
  const out: string[] = [];
  const datadir = `${rows.find((r) => r.sizeMiB === size)?.datadirMiB.toFixed(0)} MiB datadir`;
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
  for (const size of sizesMiB) {
    const of = (key: string) => rows.filter((r) => r.sizeMiB === size && r.method === key);
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
  for (const line of goals(rows, sizesMiB.at(-1)!)) console.log(line);
  printVersions();
}

const rows: Row[] = [];
const t0 = Date.now();
const linkText = await withBench(setup, async (b) => {
  await createWriterTable(b.cluster, b.n1);
  const tables: Tables = { next: 0 };
  for (const size of sizesMiB) await benchSize(b, size, tables, rows);
  return b.linkText;
});
report(rows, linkText, t0);
