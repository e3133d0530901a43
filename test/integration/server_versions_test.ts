/**
 * Server versions over loopback: each side is started through a `mariadbd` stand-in that
 * reports a chosen version (test/support/stand_in.ts), so joiner and donor find and ask "their"
 * server exactly as under a real one. A pair across the 10.8 redo log change is refused by the
 * donor before `flush tables`, and the joiner fails with the donor's reason; a newer donor on
 * the same side warns and copies; the rolling-upgrade direction copies without a word.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst, TEST_STATE } from "../../scripts/lib/sst_driver.ts";
import { assertNothingLeft, leftovers, withFixture } from "../../scripts/lib/fixture.ts";
import { makeMariadbdStandIn } from "../support/stand_in.ts";
import { ExitCode } from "../../src/core/errors.ts";

/** One pair: the versions as the servers print them, and what must happen. */
interface VersionCase {
  donor: string;
  /** null: no mariadbd above the joiner (like a joiner of ours that sends no version). */
  joiner: string | null;
  expect: "refuse" | "warn" | "ok";
}

const CASES: VersionCase[] = [
  { donor: "10.5.23-MariaDB-0+deb11u1", joiner: "10.11.19-MariaDB-0+deb12u1", expect: "refuse" },
  { donor: "11.8.9-MariaDB-deb13", joiner: "10.5.23-MariaDB-0+deb11u1", expect: "refuse" },
  { donor: "11.8.9-MariaDB-deb13", joiner: "10.11.19-MariaDB-0+deb12u1", expect: "warn" },
  { donor: "10.11.19-MariaDB-0+deb12u1", joiner: "11.8.9-MariaDB-deb13", expect: "ok" },
  { donor: "10.5.23-MariaDB-0+deb11u1", joiner: null, expect: "ok" },
];

const short = (v: string | null) => v === null ? "unknown" : v.replace(/-.*$/, "");
const lines = (stderr: string, level: string) =>
  stderr.split("\n").filter((l) => l.startsWith(`WSREP_SST: [${level}]`));

for (const c of CASES) {
  Deno.test(`versions: donor ${short(c.donor)} → joiner ${short(c.joiner)}: ${c.expect}`, async () => {
    await withFixture({}, async (f) => {
      const donorServer = await makeMariadbdStandIn(`${f.root}/server-donor`, c.donor);
      const joinerWrap = c.joiner === null
        ? []
        : [await makeMariadbdStandIn(`${f.root}/server-joiner`, c.joiner)];
      const r = await driveSst({
        address: f.address,
        joiner: { ...f.joiner, wrap: joinerWrap },
        donor: { ...f.donor, wrap: [donorServer] },
      });
      const d = r.donor!;
      assert(d !== null, "the donor was started");
      if (c.joiner === null) {
        // No version in the address: the donor proceeds and says the check was skipped; the
        // record it sends is the one older joiners of ours accept (no version line).
        assertMatch(r.joiner.lines[0], /\/rsync_tunnel_sst\/1\/nocopy$/);
        assertEquals(
          lines(d.stderr, "INFO").filter((l) =>
            l.includes(
              `server versions: donor MariaDB ${short(c.donor)}, joiner an unknown version ` +
                "(version check skipped: the joiner's server version is not known)",
            )
          ).length,
          1,
          d.stderr,
        );
        assertEquals(lines(r.joiner.stderr, "INFO").filter((l) => /server versions/.test(l)), []);
      }
      const both = `donor MariaDB ${short(c.donor)}, joiner MariaDB ${short(c.joiner)}`;
      // The joiner told its version; both ends log one INFO line with both versions.
      if (c.joiner !== null) {
        assertMatch(
          r.joiner.lines[0],
          new RegExp(
            `/rsync_tunnel_sst/1/mariadb-${short(c.joiner).replace(/\./g, "\\.")}/nocopy$`,
          ),
        );
      }
      for (const side of c.joiner === null ? [] : [d.stderr, r.joiner.stderr]) {
        assertEquals(
          lines(side, "INFO").filter((l) => l.includes(`server versions: ${both}`)).length,
          1,
          side,
        );
      }
      switch (c.expect) {
        case "refuse": {
          assertEquals(d.code, ExitCode.unsupportedPair, d.stderr);
          assertEquals(d.lines, [], "the donor must stop before `flush tables`");
          const errors = lines(d.stderr, "ERROR");
          assertEquals(errors.length, 1, d.stderr);
          assertMatch(errors[0], new RegExp(`MariaDB ${short(c.donor)}\\b`));
          assertMatch(errors[0], new RegExp(`MariaDB ${short(c.joiner)}\\b`));
          assertMatch(errors[0], /redo log format changed in 10\.8\b.*; upgrade/);
          assertEquals(r.joiner.code, ExitCode.unsupportedPair, r.joiner.stderr);
          assertEquals(r.joiner.lines.length, 1, "the joiner prints no final line");
          const jErrors = lines(r.joiner.stderr, "ERROR");
          assertEquals(jErrors.length, 1, r.joiner.stderr);
          assertMatch(jErrors[0], /the donor refused this SST: the joiner runs MariaDB /);
          assertMatch(jErrors[0], new RegExp(`donor running MariaDB ${short(c.donor)}\\b`));
          // Nothing of the donor's data set arrived.
          assertEquals(
            leftovers(f.joiner.layout.datadir).filter((n) => !n.startsWith("sst_")),
            [],
          );
          break;
        }
        case "warn":
        case "ok": {
          assertEquals(d.code, 0, d.stderr);
          assertEquals(r.joiner.code, 0, r.joiner.stderr);
          assertEquals(d.lines, ["flush tables", "continue", `done ${TEST_STATE}`]);
          assertEquals(r.joiner.lines.slice(1), [TEST_STATE]);
          const warned = (s: string) =>
            lines(s, "WARNING").filter((l) => /newer than the joiner/.test(l));
          assertEquals(warned(d.stderr).length, c.expect === "warn" ? 1 : 0, d.stderr);
          assertEquals(warned(r.joiner.stderr).length, c.expect === "warn" ? 1 : 0);
          break;
        }
      }
      assertNothingLeft(f, `SST donor ${short(c.donor)} → joiner ${short(c.joiner)}`);
    });
  });
}

Deno.test("versions: the joiner names the donor's refusal also when mariadbd aborts it right after", async () => {
  // A real joiner's mariadbd aborts as soon as Galera reports the donor's failure, while the
  // joiner may still be letting the donor's last connection end.
  await withFixture({}, async (f) => {
    const donorServer = await makeMariadbdStandIn(`${f.root}/server-donor`, CASES[0].donor);
    const joinerServer = await makeMariadbdStandIn(`${f.root}/server-joiner`, CASES[0].joiner!);
    const mariadbd = new Deno.Command("sleep", { args: ["300"] }).spawn();
    try {
      const r = await driveSst({
        address: f.address,
        joiner: { ...f.joiner, wrap: [joinerServer] },
        donor: { ...f.donor, wrap: [donorServer] },
        parent: mariadbd.pid,
        onDonorFailure: async (joiner) => {
          mariadbd.kill("SIGKILL");
          await joiner.status;
        },
      });
      assertEquals(r.donor?.code, ExitCode.unsupportedPair, r.donor?.stderr);
      assertEquals(r.joiner.code, ExitCode.unsupportedPair, r.joiner.stderr);
      const jErrors = lines(r.joiner.stderr, "ERROR");
      assertEquals(jErrors.length, 1, r.joiner.stderr);
      assertMatch(jErrors[0], /the donor refused this SST: /);
    } finally {
      try {
        mariadbd.kill("SIGKILL");
      } catch { /* gone */ }
      await mariadbd.status;
    }
    assertNothingLeft(f, "a refused SST whose joiner mariadbd aborted");
  });
});
