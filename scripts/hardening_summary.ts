/**
 * Prints the hardening summary from the ledger the tests wrote (test/support/ledger.ts):
 * faults survived / tried, bad inputs rejected / tried, orphans, plaintext listeners, secrets
 * exposed, world-readable files. `--markdown` prints a table for the README. Exits 1 if any
 * entry is not ok.
 *
 * @module
 */
import { type LedgerEntry, ledgerPath, readLedger } from "../test/support/ledger.ts";

const entries = readLedger();
const of = (kind: LedgerEntry["kind"]) => entries.filter((e) => e.kind === kind);
const ratio = (kind: LedgerEntry["kind"]) => {
  const all = of(kind);
  return `${all.filter((e) => e.ok).length} / ${all.length}`;
};
const total = (kind: LedgerEntry["kind"]) => {
  const all = of(kind);
  return `${all.reduce((n, e) => n + (e.count ?? 0), 0)} (in ${all.length} checks)`;
};
const rows: [string, string][] = [
  ["faults handled / tried", ratio("fault")],
  ["bad inputs rejected / tried", ratio("bad-input")],
  ["orphan processes found", total("orphans")],
  ["plaintext listeners found", total("plaintext-listeners")],
  ["secrets exposed", total("secrets-exposed")],
  ["files readable by others", total("world-readable-files")],
];
if (Deno.args.includes("--markdown")) {
  console.log("| measure | result |\n| --- | --- |");
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
} else {
  console.log(`hardening summary (${ledgerPath()}):`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(30)} ${v}`);
}
const bad = entries.filter((e) => !e.ok);
for (const e of bad) console.log(`  NOT OK: ${e.kind} ${e.name} ${e.detail ?? ""}`);
Deno.exit(bad.length > 0 ? 1 : 0);
