/**
 * CI's check that no test was silently skipped: reads a `deno test` log (NO_COLOR) on stdin,
 * prints `skipped N` (tests and steps reported `... ignored`), and exits 1 when one of them is
 * not allowed for this suite by `.ci/allowed_skips` (lines `suite<TAB>test name<TAB>reason`;
 * `#` starts a comment). Used by `.ci/run`:
 *
 *   deno run -A scripts/ci_skips.ts "deno task test:e2e:10.5" < log
 *
 * @module
 */

/** One allowed skip: a test (or step) name that may be ignored in a suite, and why. */
export interface AllowedSkip {
  suite: string;
  name: string;
  reason: string;
}

/** Parses `.ci/allowed_skips`; a line without a reason is an error. */
export function parseAllowedSkips(text: string): AllowedSkip[] {
  const out: AllowedSkip[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const [suite, name, reason] = line.split("\t");
    if (!suite || !name || !reason?.trim()) {
      throw new Error(`.ci/allowed_skips:${i + 1}: want suite<TAB>test name<TAB>reason`);
    }
    out.push({ suite, name, reason });
  }
  return out;
}

/** The names of the tests and steps a `deno test` log reports as ignored. */
export function ignoredTests(log: string): string[] {
  return log.split("\n").map((l) => /^\s*(.*) \.\.\. ignored \(/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** The ignored names that `allowed` does not list for `suite`. */
export function unexpectedSkips(
  suite: string,
  ignored: readonly string[],
  allowed: readonly AllowedSkip[],
): string[] {
  return ignored.filter((n) => !allowed.some((a) => a.suite === suite && a.name === n));
}

if (import.meta.main) {
  const suite = Deno.args[0] ?? "";
  const log = await new Response(Deno.stdin.readable).text();
  const path = new URL("../.ci/allowed_skips", import.meta.url);
  const allowed = parseAllowedSkips(await Deno.readTextFile(path).catch(() => ""));
  const ignored = ignoredTests(log);
  console.log(`skipped ${ignored.length}`);
  const bad = unexpectedSkips(suite, ignored, allowed);
  for (const n of bad) {
    console.error(
      `CI: "${n}" was skipped in ${suite}; it must run (or be listed, with the reason, in .ci/allowed_skips)`,
    );
  }
  Deno.exit(bad.length > 0 ? 1 : 0);
}
