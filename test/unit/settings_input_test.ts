/**
 * Settings come from a typed input (role, datadir, option files), not from an argument vector:
 * without a datadir, `[mysqld] datadir` of the option files (an `!includedir` file included),
 * else the compiled-in one.
 */
import { assertEquals } from "../support/assert.ts";
import { COMPILED_DATADIR, loadSettings, settingsInputOf } from "../../src/config/settings.ts";
import { parseSstArgs } from "../../src/core/args.ts";
import { invocationOf } from "../../src/cli/invocation.ts";

Deno.test("without a datadir the settings take [mysqld] datadir, from an !includedir file too", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/conf.d`);
    await Deno.writeTextFile(`${dir}/conf.d/datadir.cnf`, "[mysqld]\ndatadir=/srv/db/\n");
    await Deno.writeTextFile(`${dir}/my.cnf`, `[sst]\ntmpdir=/tmp\n!includedir ${dir}/conf.d\n`);
    const s = await loadSettings(
      { role: "joiner", defaults: { defaultsFile: `${dir}/my.cnf` } },
      1,
    );
    assertEquals(s.layout.datadir, "/srv/db");
    assertEquals(s.layout.innodbUndoDirectory, "/srv/db");
    await Deno.writeTextFile(`${dir}/conf.d/datadir.cnf`, "[client]\nuser=x\n");
    const d = await loadSettings({ role: "donor", defaults: { defaultsFile: `${dir}/my.cnf` } }, 1);
    assertEquals(d.layout.datadir, COMPILED_DATADIR);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an SST's settings input is built from its parsed arguments", () => {
  const args = parseSstArgs([
    "--role",
    "donor",
    "--address",
    "h",
    "--datadir",
    "/data/",
    "--defaults-file",
    "/etc/x.cnf",
    "--defaults-group-suffix",
    ".n",
  ]);
  const input = settingsInputOf(args);
  assertEquals(input.role, "donor");
  assertEquals(input.datadir, "/data/");
  assertEquals(input.defaults, {
    defaultsFile: "/etc/x.cnf",
    defaultsExtraFile: undefined,
    defaultsGroupSuffix: ".n",
  });
});

Deno.test("argv is read once: an SST call, the responder, the donor gate or the CLI", () => {
  assertEquals(invocationOf(["--role", "joiner", "--address", "h"]).kind, "sst");
  assertEquals(invocationOf(["check", "--role", "joiner"]).kind, "cli");
  assertEquals(invocationOf(["--role", "joiner", "--help"]).kind, "cli");
  assertEquals(invocationOf(["--check-responder"]).kind, "check-responder");
  assertEquals(invocationOf([]).kind, "cli");
});
