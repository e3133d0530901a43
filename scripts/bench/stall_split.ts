/**
 * `bench:stall`'s samples, and its table under `--load sysbench` (issue 24): per data set and
 * method the SST, the longest stop of the donor's writes, and how our donor spent its lock
 * (mariadbd's flush, clones, locked pass), with the goals of issue 24's "done when".
 *
 * @module
 */
import type { Method } from "./methods.ts";
import type { DataSet } from "./options.ts";
import type { JoinSample, LockSplit } from "./join.ts";
import { type Gap, GAP_NOTED_S, type WriterResult } from "./writer.ts";
import { fmt, median, printTable } from "./report.ts";
import { dataSetLabel } from "./hot_load.ts";

/** One counted SST. */
export interface Row {
  /** Index of the data set. */
  set: number;
  datadirMiB: number;
  method: string;
  round: number;
  sst: JoinSample;
  writer: WriterResult;
  /** `donor writes blocked for N s` from node1's log (NaN when absent: stock methods). */
  donorBlocked: number;
  /** How our donor spent the lock, from node1's log (null: stock methods). */
  split: LockSplit | null;
}

/**
 * Where a stop of the writer fell against the donor's SST script: before it started (node2
 * joining the group), while it ran (the lock is in there), or after it ended (node2 catching up
 * with the write sets queued during the SST: Galera's flow control).
 */
export type GapPhase = "before" | "sst" | "after";

/** The phase of gap `g` for a donor script that ran over `span` (seconds since boot). */
export function gapPhase(g: Gap, span: { start: number; end: number }): GapPhase {
  if (g.at + g.seconds <= span.start) return "before";
  if (g.at >= span.end) return "after";
  return "sst";
}

/**
 * The longest gap of `phase` (`outside`: before or after); below {@link GAP_NOTED_S} none is
 * kept, so that figure stands for "shorter".
 */
export function longestOf(r: Row, phase: GapPhase | "outside"): number {
  const span = r.sst.donorSpan;
  const all = r.writer.gaps.filter((g) => {
    const p = gapPhase(g, span);
    return phase === "outside" ? p !== "sst" : p === phase;
  });
  return all.length > 0 ? Math.max(...all.map((g) => g.seconds)) : GAP_NOTED_S;
}

/** The noted gaps of one run, placed against the donor's script: `0.55 s at +12.3 s (after)`. */
export function describeGaps(r: Row | Omit<Row, "set" | "datadirMiB" | "method">): string {
  const span = r.sst.donorSpan;
  return r.writer.gaps.map((g) =>
    `${fmt(g.seconds)} s at +${fmt(g.at - span.start, 1)} s (${gapPhase(g, span)})`
  ).join(", ") || `none over ${GAP_NOTED_S} s`;
}

/** Medians of one method at one size. */
export function medians(rs: Row[]) {
  const of = (f: (s: LockSplit) => number) => median(rs.map((r) => r.split ? f(r.split) : NaN));
  return {
    sst: median(rs.map((r) => r.sst.sstSeconds)),
    join: median(rs.map((r) => r.sst.joinSeconds)),
    stall: median(rs.map((r) => r.writer.longestGap)),
    stallSst: median(rs.map((r) => longestOf(r, "sst"))),
    stallOutside: median(rs.map((r) => longestOf(r, "outside"))),
    logged: median(rs.map((r) => r.donorBlocked)),
    flush: of((s) => s.flush),
    clones: of((s) => s.clones),
    cloneFiles: of((s) => s.cloneFiles),
    lockedPass: of((s) => s.lockedPass),
    ours: of((s) => s.blocked - s.flush),
  };
}

/** What {@link sysbenchReport} prints. */
export interface SplitReport {
  rows: Row[];
  methods: Method[];
  dataSets: DataSet[];
  /** The summary line (runs, link, CPUs, time, file system). */
  head: string;
}

const HEADERS = [
  "data set",
  "method",
  "SST s",
  "runs SST s",
  "longest write gap s",
  "runs gap s",
  "gap while the donor's script ran s",
  "gap outside it s",
  "donor log: blocked s",
  "mariadbd's flush s",
  "clones s (files)",
  "locked pass s",
  "locked pass: compared/copied, sent",
  "ours: blocked − flush s",
  "gap ÷ mariabackup's",
  "SST ÷ rsync's",
];

function splitRow(set: DataSet, m: Method, rs: Row[], refs: { gap: number; sst: number }) {
  const x = medians(rs);
  const files = Number.isFinite(x.cloneFiles) ? ` (${x.cloneFiles.toFixed(0)})` : "";
  const passLines = rs.map((r) => r.split?.lockedPassLine).filter((l) => l);
  return [
    `${dataSetLabel(set)} (${rs[0].datadirMiB.toFixed(0)} MiB datadir)`,
    m.label,
    fmt(x.sst),
    rs.map((r) => fmt(r.sst.sstSeconds)).join(", "),
    fmt(x.stall),
    rs.map((r) => fmt(r.writer.longestGap)).join(", "),
    fmt(x.stallSst),
    fmt(x.stallOutside),
    fmt(x.logged),
    fmt(x.flush),
    `${fmt(x.clones)}${files}`,
    fmt(x.lockedPass),
    passLines.length > 0 ? passLines.join("; ") : "—",
    fmt(x.ours),
    fmt(x.stall / refs.gap),
    fmt(x.sst / refs.sst),
  ];
}

/** Issue 24's goals for each of our methods in data set `i`. */
function goals(r: SplitReport, i: number): string[] {
  const of = (key: string) => medians(r.rows.filter((x) => x.set === i && x.method === key));
  const [plain, mb] = [of("plain"), of("mariabackup")];
  /** `met`/`NOT met`, or `—` when a figure is missing (e.g. the method not run). */
  const check = (a: number, max: number) =>
    !Number.isFinite(a) || !Number.isFinite(max) ? "—" : a <= max ? "met" : "NOT met";
  return r.methods.filter((m) => m.sstMethod === "rsync_tunnel").map((m) => {
    const x = of(m.key);
    return `${dataSetLabel(r.dataSets[i])}, ${m.label}: longest stop ${fmt(x.stall)} s ` +
      `(≤ 0.3 s: ${check(x.stall, 0.3)}; ≤ mariabackup's ${fmt(mb.stall)} s: ` +
      `${check(x.stall, mb.stall)}); while the donor's script ran ${fmt(x.stallSst)} s ` +
      `(≤ 0.3 s: ${check(x.stallSst, 0.3)}; mariabackup's ${
        fmt(mb.stallSst)
      } s); of the lock mariadbd's flush ${fmt(x.flush)} s and ours ` +
      `${fmt(x.ours)} s; SST ÷ plaintext rsync's ${fmt(x.sst / plain.sst)} (≤ 1.1: ` +
      `${check(x.sst / plain.sst, 1.1)})`;
  });
}

/** Prints the table and the goal lines. */
export function sysbenchReport(r: SplitReport): void {
  console.log(
    `\n${r.head}\nload: sysbench oltp_write_only at 100 transactions/s, uniformly random ` +
      "rows; writer: one row every 50 ms\n",
  );
  const lines: string[][] = [];
  for (let i = 0; i < r.dataSets.length; i++) {
    const of = (key: string) => r.rows.filter((x) => x.set === i && x.method === key);
    const refs = { gap: medians(of("mariabackup")).stall, sst: medians(of("plain")).sst };
    for (const m of r.methods) {
      if (of(m.key).length > 0) lines.push(splitRow(r.dataSets[i], m, of(m.key), refs));
    }
  }
  printTable(HEADERS, lines);
  console.log("");
  for (let i = 0; i < r.dataSets.length; i++) for (const g of goals(r, i)) console.log(g);
}
