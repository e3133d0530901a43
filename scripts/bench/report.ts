/**
 * Reporting helpers of the benchmark scenarios: medians, number formatting, Markdown tables
 * (the README's format) and the versions of everything measured.
 *
 * @module
 */
import { VERSION } from "../../src/core/version.ts";
import { versionOf } from "../bench_common.ts";

/** Median of the finite values (NaN if there are none). */
export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `x` with `d` decimals, or `—` when it is not a finite number. */
export function fmt(x: number, d = 2): string {
  return Number.isFinite(x) ? x.toFixed(d) : "—";
}

/** `a ÷ b` with two decimals (`—` when either is missing). */
export function ratio(a: number, b: number): string {
  return fmt(a / b);
}

/** Prints a Markdown table. */
export function printTable(headers: string[], rows: string[][]): void {
  console.log(`| ${headers.join(" | ")} |`);
  console.log(`|${headers.map(() => "---").join("|")}|`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

/** The first line of a benchmark's summary: runs, link, CPUs, total minutes since `t0`. */
export function summaryLine(runs: number, linkText: string, t0: number): string {
  return `${runs} interleaved run(s) per method and size, median; link: ${linkText}; ` +
    `${navigator.hardwareConcurrency} CPUs; total ${((Date.now() - t0) / 60000).toFixed(1)} min`;
}

/** Prints the versions of this program and of every tool the methods run. */
export function printVersions(): void {
  console.log("");
  console.log(`wsrep_sst_rsync_tunnel ${VERSION}; deno ${Deno.version.deno}`);
  console.log(versionOf("socat", ["-V"], /version/));
  console.log(versionOf("rsync", ["--version"]));
  console.log(versionOf("stunnel", ["-version"], /stunnel/i));
  console.log(versionOf("openssl", ["version"]));
  console.log(versionOf("mariabackup", ["--version"], /mariabackup|mariadb-backup/i));
  console.log(versionOf("/usr/sbin/mariadbd", ["--version"]));
}
