/**
 * The hardening ledger: tests record what they tried and what they found (faults survived,
 * configuration refusals, bad inputs rejected, unusual inputs accepted, orphan processes,
 * plaintext listeners, plaintext data, exposed secrets), one JSON line per observation, and
 * `scripts/hardening_summary.ts` turns the ledger into the summary the README shows.
 * Everything in it is measured by a test, never written by hand.
 *
 * How it counts:
 * - A test records an entry *before* it asserts, with `ok` = the outcome the assertions then
 *   check ({@link check} does both), so a failing case shows up as NOT OK instead of missing.
 * - `name` is the case's stable id. The summary merges the entries of one kind and name
 *   recorded in one MariaDB version's run (the same scenario checked by several tests, or a
 *   test run twice) into one case, ok only when every entry was.
 * - `version` is where the entry was recorded (the MariaDB of the host or of a Debian root,
 *   see {@link ledgerVersion}): the same case run against 10.5, 10.11 and 11.8 counts once
 *   per version.
 *
 * @module
 */

/** What a ledger line is about. */
export type LedgerKind =
  | "fault" // a fault injected during an SST; ok = handled (clean failure or recovery)
  | "config-refusal" // a node misconfigured or missing a tool; ok = refused before data moved
  | "bad-input" // a hostile or invalid input; ok = rejected before anything ran
  | "accepted-input" // an unusual but valid input (a space in a path); ok = the SST worked
  | "orphans" // count = helper processes found after a run (ok when 0)
  | "plaintext-listeners" // count = non-TLS listeners found during a transfer (ok when 0)
  | "plaintext-data" // count = bytes beyond a TLS hello that reached a plaintext peer (ok when 0)
  | "secrets-exposed" // count = secrets found in /proc/*/cmdline or logs (ok when 0)
  | "world-readable-files"; // count = files we created readable by others (ok when 0)

/** One ledger line. */
export interface LedgerEntry {
  kind: LedgerKind;
  /** The case's stable id, e.g. "joiner disk full" or "address with backtick". */
  name: string;
  ok: boolean;
  count?: number;
  detail?: string;
  test?: string;
  /** Where it ran (filled in by {@link record}). */
  version?: string;
  at?: string;
}

/** Where the ledger lives (override with SST_LEDGER). */
export function ledgerPath(): string {
  return Deno.env.get("SST_LEDGER") ??
    new URL("../../dist/hardening-ledger.jsonl", import.meta.url).pathname;
}

let version: string | undefined;

/**
 * The MariaDB version the entries of this process are recorded against: `mariadbd --version`
 * of the machine (or Debian root, `SST_TEST_ROOT`) the tests run on, e.g. "10.11.19 (host)"
 * or "10.5.23 (bullseye root)". `SST_LEDGER_VERSION` overrides it.
 */
export function ledgerVersion(): string {
  if (version !== undefined) return version;
  const set = Deno.env.get("SST_LEDGER_VERSION");
  if (set) return version = set;
  const where = Deno.env.get("SST_TEST_ROOT");
  let mariadb = "unknown";
  for (const cmd of ["mariadbd", "/usr/sbin/mariadbd"]) {
    try {
      const out = new Deno.Command(cmd, { args: ["--version"], stdout: "piped", stderr: "null" })
        .outputSync();
      const m = /Ver\s+(\d+\.\d+\.\d+)/.exec(new TextDecoder().decode(out.stdout));
      if (m) {
        mariadb = m[1];
        break;
      }
    } catch { /* not there */ }
  }
  return version = `${mariadb} (${where ? `${where} root` : "host"})`;
}

/** Appends one entry. */
export function record(entry: LedgerEntry): void {
  const line = JSON.stringify({
    ...entry,
    version: entry.version ?? ledgerVersion(),
    at: new Date().toISOString(),
  }) + "\n";
  const path = ledgerPath();
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  Deno.writeTextFileSync(path, line, { append: true });
}

/** Records a count-type observation (orphans, listeners, secrets, files); ok when 0. */
export function recordCount(kind: LedgerKind, name: string, count: number, detail?: string): void {
  record({ kind, name, ok: count === 0, count, detail });
}

/**
 * Records a case with ok = no problems, then fails with the problems: the entry is written
 * whatever the outcome, and says exactly what the assertion says.
 */
export function check(
  kind: LedgerKind,
  name: string,
  problems: string[],
  detail?: string,
): void {
  record({ kind, name, ok: problems.length === 0, detail: problems.join("; ") || detail });
  if (problems.length > 0) throw new Error(`${name}:\n  ${problems.join("\n  ")}`);
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

/** One case of the summary: the entries of one kind, name and version, merged. */
export interface LedgerCase {
  kind: LedgerKind;
  name: string;
  version: string;
  ok: boolean;
  /** The largest count any entry had (count kinds). */
  count: number;
  /** How many entries were merged. */
  entries: number;
  details: string[];
}

/** Merges entries into cases (kind + name + version), in first-seen order. */
export function ledgerCases(entries: readonly LedgerEntry[]): LedgerCase[] {
  const cases = new Map<string, LedgerCase>();
  for (const e of entries) {
    const v = e.version ?? "unknown";
    const key = JSON.stringify([e.kind, e.name, v]);
    const c = cases.get(key) ??
      { kind: e.kind, name: e.name, version: v, ok: true, count: 0, entries: 0, details: [] };
    c.ok &&= e.ok;
    c.count = Math.max(c.count, e.count ?? 0);
    c.entries++;
    if (!e.ok && e.detail) c.details.push(e.detail);
    cases.set(key, c);
  }
  return [...cases.values()];
}
