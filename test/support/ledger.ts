/**
 * The hardening ledger: tests record what they tried and what they found (faults survived,
 * bad inputs rejected, orphan processes, plaintext listeners, exposed secrets), one JSON line
 * per event, and `scripts/hardening_summary.ts` turns the ledger into the summary the README
 * shows. Everything in it is measured by a test, never written by hand.
 *
 * @module
 */

/** What a ledger line is about. */
export type LedgerKind =
  | "fault" // a fault injected; ok = handled (clean failure or recovery)
  | "bad-input" // a hostile or invalid input; ok = rejected before anything ran
  | "orphans" // count = helper processes found after a run (ok when 0)
  | "plaintext-listeners" // count = non-TLS listeners found during a transfer (ok when 0)
  | "secrets-exposed" // count = secrets found in /proc/*/cmdline or logs (ok when 0)
  | "world-readable-files"; // count = files we created readable by others (ok when 0)

/** One ledger line. */
export interface LedgerEntry {
  kind: LedgerKind;
  /** What was tried, e.g. "joiner disk full" or "address with backtick". */
  name: string;
  ok: boolean;
  count?: number;
  detail?: string;
  test?: string;
  at?: string;
}

/** Where the ledger lives (override with SST_LEDGER). */
export function ledgerPath(): string {
  return Deno.env.get("SST_LEDGER") ??
    new URL("../../dist/hardening-ledger.jsonl", import.meta.url).pathname;
}

/** Appends one entry. */
export function record(entry: LedgerEntry): void {
  const line = JSON.stringify({ ...entry, at: new Date().toISOString() }) + "\n";
  const path = ledgerPath();
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  Deno.writeTextFileSync(path, line, { append: true });
}

/** Records a count-type observation (orphans, listeners, secrets, files); ok when 0. */
export function recordCount(kind: LedgerKind, name: string, count: number, detail?: string): void {
  record({ kind, name, ok: count === 0, count, detail });
}

/** Reads all entries. */
export function readLedger(path = ledgerPath()): LedgerEntry[] {
  try {
    return Deno.readTextFileSync(path).split("\n").filter((l) => l.trim()).map((l) =>
      JSON.parse(l) as LedgerEntry
    );
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}
