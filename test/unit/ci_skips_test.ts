/** CI's skipped-test check (scripts/ci_skips.ts, used by .ci/run). */
import { assertEquals } from "../support/assert.ts";
import { ignoredTests, parseAllowedSkips, unexpectedSkips } from "../../scripts/ci_skips.ts";

const LOG = [
  "running 2 tests from ./test/e2e/multihost_test.ts",
  "multi-host: three nodes by name ... ignored (0ms)",
  "two ...",
  "  SST over [::1] with Debian's /etc/hosts on the donor (::1 → localhost) ... ignored (0ms)",
  "  s2 ... ok (0ms)",
  "two ... ok (2ms)",
  "",
  "ok | 1 passed (1 step) | 0 failed | 1 ignored (1 step) (19ms)",
].join("\n");

Deno.test("ci skips: ignored tests and steps are found by name", () => {
  assertEquals(ignoredTests(LOG), [
    "multi-host: three nodes by name",
    "SST over [::1] with Debian's /etc/hosts on the donor (::1 → localhost)",
  ]);
});

Deno.test("ci skips: a skip not listed for the suite is unexpected; a listed one is not", () => {
  const allowed = parseAllowedSkips(
    "# comment\n" +
      "deno task test:e2e:10.5\tmulti-host: three nodes by name\tno netns in a chroot\n",
  );
  assertEquals(
    unexpectedSkips("deno task test:e2e:10.5", ["multi-host: three nodes by name"], allowed),
    [],
  );
  assertEquals(
    unexpectedSkips("deno task test:e2e", ["multi-host: three nodes by name"], allowed),
    ["multi-host: three nodes by name"],
  );
});

Deno.test("ci skips: the script fails on an unexpected skip and passes a log without one", async () => {
  const run = async (log: string) => {
    const p = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../scripts/ci_skips.ts", import.meta.url).pathname, "x"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(log));
    await w.close();
    const o = await p.output();
    return { code: o.code, out: new TextDecoder().decode(o.stdout) };
  };
  assertEquals(await run(LOG), { code: 1, out: "skipped 2\n" });
  assertEquals(await run("a ... ok (1ms)\nok | 1 passed | 0 failed (2ms)\n"), {
    code: 0,
    out: "skipped 0\n",
  });
});

Deno.test("ci skips: the repository's allow list parses and every line has a reason", async () => {
  const text = await Deno.readTextFile(new URL("../../.ci/allowed_skips", import.meta.url));
  for (const a of parseAllowedSkips(text)) assertEquals(a.reason.trim().length > 0, true);
});
