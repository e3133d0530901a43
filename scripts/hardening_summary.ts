/**
 * Prints the hardening summary from the ledger the tests wrote (scripts/lib/ledger.ts), per
 * kind: faults handled / tried, configuration refusals, bad inputs rejected / tried, unusual
 * inputs accepted / tried, orphans, plaintext listeners, plaintext data, secrets exposed,
 * world-readable files. Entries of one kind and name recorded in one MariaDB version's run are
 * one case (ok only if every entry was); the same case in another version counts again.
 * `--markdown` prints a table for the README, `--version X` counts one version's run only. Lists
 * every NOT OK case and exits 1 if any.
 *
 * @module
 */
import {
  type LedgerCase,
  ledgerCases,
  type LedgerKind,
  ledgerPath,
  readLedger,
} from "./lib/ledger.ts";

// `--version X`: only the cases of one MariaDB version's run (the README's host table).
const only = Deno.args.includes("--version") ? Deno.args[Deno.args.indexOf("--version") + 1] : null;
const cases = ledgerCases(readLedger()).filter((c) => only === null || c.version === only);
const versions = [...new Set(cases.map((c) => c.version))].sort();
const of = (kind: LedgerKind) => cases.filter((c) => c.kind === kind);
const ratio = (kind: LedgerKind) => {
  const all = of(kind);
  return `${all.filter((c) => c.ok).length} / ${all.length}`;
};
const total = (kind: LedgerKind) => {
  const all = of(kind);
  return `${all.reduce((n, c) => n + c.count, 0)} (in ${all.length} checks)`;
};
const rows: [string, string][] = [
  ["faults handled / tried", ratio("fault")],
  ["configuration refusals clean / tried", ratio("config-refusal")],
  ["bad inputs rejected / tried", ratio("bad-input")],
  ["unusual valid inputs accepted / tried", ratio("accepted-input")],
  ["orphan processes found", total("orphans")],
  ["plaintext listeners found", total("plaintext-listeners")],
  ["bytes of data to a plaintext peer", total("plaintext-data")],
  ["secrets exposed (`/proc/*/cmdline`, `environ`, logs)", total("secrets-exposed")],
  ["files readable by others", total("world-readable-files")],
];
if (Deno.args.includes("--markdown")) {
  console.log("| measure | result |\n| --- | --- |");
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  console.log(`\nMariaDB versions: ${versions.join(", ") || "none"}`);
} else {
  console.log(`hardening summary (${ledgerPath()}; ${versions.join(", ") || "no entries"}):`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(42)} ${v}`);
  if (versions.length > 1) {
    for (const v of versions) {
      const in_ = cases.filter((c) => c.version === v);
      const n = (k: LedgerKind) => {
        const all = in_.filter((c) => c.kind === k);
        return `${all.filter((c) => c.ok).length}/${all.length}`;
      };
      console.log(
        `  ${v}: faults ${n("fault")}, configuration refusals ${n("config-refusal")}, ` +
          `bad inputs ${n("bad-input")}, accepted inputs ${n("accepted-input")}`,
      );
    }
  }
}
const bad: LedgerCase[] = cases.filter((c) => !c.ok);
for (const c of bad) {
  const count = c.count ? ` (count ${c.count})` : "";
  console.log(`  NOT OK: ${c.kind} ${c.name} [${c.version}]${count} ${c.details.join(" | ")}`);
}
Deno.exit(bad.length > 0 ? 1 : 0);
