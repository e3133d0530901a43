/**
 * How the hardening ledger counts (scripts/lib/ledger.ts, scripts/hardening_summary.ts): one
 * case per kind, name and MariaDB version; a case is ok only if every entry was; a failed check
 * is recorded (NOT OK) before it throws; the summary lists every NOT OK case.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { check, ledgerCases, type LedgerEntry, readLedger } from "../../scripts/lib/ledger.ts";

const e = (over: Partial<LedgerEntry>): LedgerEntry => ({
  kind: "fault",
  name: "joiner disk full",
  ok: true,
  version: "10.11.19 (host)",
  ...over,
});

Deno.test("ledger: the same case recorded by two tests counts once, ok only if both were", () => {
  const one = ledgerCases([e({}), e({})]);
  assertEquals(one.length, 1);
  assertEquals(one[0].ok, true);
  assertEquals(one[0].entries, 2);
  const failed = ledgerCases([e({}), e({ ok: false, detail: "exit 1" })]);
  assertEquals(failed.length, 1);
  assertEquals(failed[0].ok, false);
  assertEquals(failed[0].details, ["exit 1"]);
});

Deno.test("ledger: the same case in another MariaDB version, or of another kind, is another case", () => {
  const cases = ledgerCases([
    e({}),
    e({ version: "10.5.23 (bullseye root)" }),
    e({ version: "11.8.9 (trixie root)" }),
    e({ kind: "config-refusal" }),
  ]);
  assertEquals(cases.length, 4);
});

Deno.test("ledger: check() records a failing case as NOT OK before it throws", () => {
  const dir = Deno.makeTempDirSync({ prefix: "ledger-test-" });
  const path = `${dir}/ledger.jsonl`;
  const before = Deno.env.get("SST_LEDGER");
  Deno.env.set("SST_LEDGER", path);
  try {
    check("fault", "a case that passes", []);
    let thrown = "";
    try {
      check("fault", "a case that fails", ["exit 1, want 28"]);
    } catch (err) {
      thrown = String(err);
    }
    assertMatch(thrown, /want 28/);
    const entries = readLedger(path);
    assertEquals(entries.map((x) => [x.name, x.ok]), [
      ["a case that passes", true],
      ["a case that fails", false],
    ]);
    assert(entries.every((x) => typeof x.version === "string" && x.version.length > 0));
    const out = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../scripts/hardening_summary.ts", import.meta.url).pathname],
      env: { SST_LEDGER: path, NO_COLOR: "1" },
      stdout: "piped",
    }).outputSync();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 1, text);
    assertMatch(text, /faults handled \/ tried\s+1 \/ 2/);
    assertMatch(text, /NOT OK: fault a case that fails \[.*\] exit 1, want 28/);
  } finally {
    if (before === undefined) Deno.env.delete("SST_LEDGER");
    else Deno.env.set("SST_LEDGER", before);
    Deno.removeSync(dir, { recursive: true });
  }
});
