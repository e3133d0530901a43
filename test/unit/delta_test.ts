/**
 * `[sst] delta` and the name the program was invoked by: parsing and validation of the key
 * (a ConfigError naming key, value and origin), what `auto` means for each name, how main.ts's
 * facts (the launcher's variable, `/proc/self/cmdline`) resolve to a name, what `--version`
 * says about it, the launchers that pass the name on, and the parsing of rsync's summary that
 * the donor logs as bytes sent.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import { chooseDelta, type Delta, deltaFrom } from "../../src/config/delta.ts";
import { ConfigError, ExitCode } from "../../src/core/errors.ts";
import {
  MAIN_NAME,
  methodOf,
  NAME_ENV,
  resolveProgramName,
  WAN_NAME,
} from "../../src/core/program_name.ts";
import { methodLine } from "../../src/cli/version_report.ts";
import type { JoinerCopy } from "../../src/core/address.ts";
import { takeStats } from "../../src/transfer/rsync_runner.ts";
import { ALIASES, NAME_EXPORT, relativeLauncher } from "../../scripts/launcher.ts";

const COPY: JoinerCopy = { kind: "copy", mib: 180 };
const NONE: JoinerCopy = { kind: "none" };

/** `[sst] delta` as read from an option file whose `[sst]` group holds `lines`. */
async function deltaOf(lines: string[]): Promise<Delta> {
  const dir = await Deno.makeTempDir({ prefix: "delta-unit-" });
  try {
    const file = `${dir}/my.cnf`;
    await Deno.writeTextFile(file, ["[mysqld]", "datadir=/x", "[sst]", ...lines, ""].join("\n"));
    return deltaFrom(await OptionLookup.load({ defaultsFile: file, env: {} }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("[sst] delta: auto by default; on/off and their spellings, case-insensitive", async () => {
  assertEquals(await deltaOf([]), "auto");
  assertEquals(await deltaOf(["delta="]), "auto");
  assertEquals(await deltaOf(["delta = AUTO"]), "auto");
  for (const v of ["on", "ON", "1", "yes", "true"]) {
    assertEquals(await deltaOf([`delta=${v}`]), "on");
  }
  for (const v of ["off", "Off", "0", "no", "false"]) {
    assertEquals(await deltaOf([`delta=${v}`]), "off", v);
  }
  assertEquals(await deltaOf(["delta=on", "delta=off"]), "off", "the last one wins");
});

Deno.test("[sst] delta: another value is a ConfigError (exit 22) naming the key, value and origin", async () => {
  const e = await assertRejects(() => deltaOf(["tmpdir=/tmp", "delta=sometimes"]), ConfigError);
  assertEquals((e as ConfigError).exitCode, ExitCode.config);
  assertMatch(
    (e as Error).message,
    /^\[sst\] delta=sometimes \(\/\S+\/my\.cnf:5 \[sst\]\) is not auto, on or off$/,
  );
});

Deno.test("[sst] delta: auto means on as wsrep_sst_rsync_tunnel_wan whatever the joiner holds, and as wsrep_sst_rsync_tunnel off for a joiner that did not say what it holds; on and off mean themselves under both names", () => {
  for (const joiner of [null, COPY, NONE]) {
    assertEquals(chooseDelta("auto", WAN_NAME, joiner), {
      on: true,
      why: "[sst] delta=auto, invoked as wsrep_sst_rsync_tunnel_wan",
    });
  }
  assertEquals(chooseDelta("auto", MAIN_NAME), {
    on: false,
    why:
      "[sst] delta=auto, invoked as wsrep_sst_rsync_tunnel; the joiner did not say what it holds",
  });
  for (const name of [MAIN_NAME, WAN_NAME] as const) {
    for (const joiner of [null, COPY, NONE]) {
      assertEquals(chooseDelta("on", name, joiner), { on: true, why: "[sst] delta=on" });
      assertEquals(chooseDelta("off", name, joiner), { on: false, why: "[sst] delta=off" });
    }
  }
});

Deno.test("[sst] delta=auto as wsrep_sst_rsync_tunnel: delta transfer onto a joiner's earlier copy, whole files into an empty or fresh datadir, the reason naming what the joiner holds", () => {
  assertEquals(chooseDelta("auto", MAIN_NAME, COPY), {
    on: true,
    why: "[sst] delta=auto: the joiner holds an earlier copy, 180 MiB",
  });
  assertEquals(chooseDelta("auto", MAIN_NAME, NONE), {
    on: false,
    why: "[sst] delta=auto: the joiner holds no earlier copy",
  });
});

Deno.test("program name: the launcher's variable first, then argv[0] of /proc/self/cmdline; only the two names count", () => {
  const cmd = (...argv: string[]) => argv.join("\0") + "\0";
  // The bundle under the runtime: argv[0] is deno, the launcher's variable decides.
  assertEquals(resolveProgramName(WAN_NAME, cmd("/usr/lib/x/deno", "run", "-A")), WAN_NAME);
  assertEquals(
    resolveProgramName(MAIN_NAME, cmd("/usr/bin/wsrep_sst_rsync_tunnel_wan")),
    MAIN_NAME,
  );
  assertEquals(resolveProgramName(undefined, cmd("deno", "run", "x.js")), MAIN_NAME);
  // A compiled executable run through the alias link, by path or by bare name (sh -c, PATH).
  assertEquals(
    resolveProgramName(undefined, cmd("/usr/bin/wsrep_sst_rsync_tunnel_wan", "--role")),
    WAN_NAME,
  );
  assertEquals(resolveProgramName("", cmd("wsrep_sst_rsync_tunnel_wan")), WAN_NAME);
  assertEquals(resolveProgramName(undefined, cmd("wsrep_sst_rsync_tunnel")), MAIN_NAME);
  // Anything else is the main name: other names, look-alikes, a name with a path in the variable.
  for (
    const other of [
      "wsrep_sst_rsync_wan",
      "wsrep_sst_rsync_tunnel_wan2",
      "wsrep_sst_rsync_tunnel_wan ",
      "rsync_tunnel_wan",
      "WSREP_SST_RSYNC_TUNNEL_WAN",
      "../wsrep_sst_rsync_tunnel_wan/x",
    ]
  ) {
    assertEquals(resolveProgramName(other, undefined), MAIN_NAME, `variable ${other}`);
    assertEquals(resolveProgramName(undefined, cmd(other)), MAIN_NAME, `argv[0] ${other}`);
  }
  assertEquals(resolveProgramName(undefined, undefined), MAIN_NAME, "no procfs");
  assertEquals(resolveProgramName(undefined, ""), MAIN_NAME, "empty cmdline");
  assertEquals(methodOf(WAN_NAME), "rsync_tunnel_wan");
  assertEquals(methodOf(MAIN_NAME), "rsync_tunnel");
});

Deno.test("--version's last line tells the method of the name and what delta=auto means for it", () => {
  assertEquals(
    methodLine(WAN_NAME),
    "run as wsrep_sst_rsync_tunnel_wan (wsrep_sst_method=rsync_tunnel_wan): [sst] delta=auto " +
      "means delta transfer against the joiner's files",
  );
  assertEquals(
    methodLine(MAIN_NAME),
    "run as wsrep_sst_rsync_tunnel (wsrep_sst_method=rsync_tunnel): [sst] delta=auto means " +
      "delta transfer when the joiner holds an earlier copy, whole files otherwise",
  );
});

Deno.test("the launchers pass on the name they were called by; the wan name is an installed alias", async () => {
  assertEquals(ALIASES, [WAN_NAME]);
  assertEquals(NAME_EXPORT, `export ${NAME_ENV}="\${0##*/}"`);
  const text = relativeLauncher();
  assert(text.split("\n").includes(NAME_EXPORT), text);
  assert(text.indexOf(NAME_EXPORT) < text.indexOf("exec "), "exported before the runtime runs");
  // What the shell makes of it, called through a link.
  const dir = await Deno.makeTempDir({ prefix: "name-export-" });
  try {
    await Deno.writeTextFile(`${dir}/main`, `#!/bin/sh\n${NAME_EXPORT}\necho "$${NAME_ENV}"\n`);
    await Deno.chmod(`${dir}/main`, 0o755);
    await Deno.symlink("main", `${dir}/${WAN_NAME}`);
    const out = await new Deno.Command(`${dir}/${WAN_NAME}`, { stdout: "piped" }).output();
    assertEquals(new TextDecoder().decode(out.stdout), `${WAN_NAME}\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rsync's --info=stats1 summary: bytes sent taken (grouped digits too), the summary lines removed", () => {
  const out = "\nsent 1,234,567 bytes  received 3,210 bytes  823,184.67 bytes/sec\n" +
    "total size is 10,485,760  speedup is 8.47\n";
  const s = takeStats(out);
  assertEquals(s.sent, 1234567);
  assertEquals(s.rest.trim(), "");
  assertEquals(takeStats("sent 17 bytes  received 12 bytes  58.00 bytes/sec\n").sent, 17);
  assertEquals(takeStats("sent 1.234 bytes  received 5 bytes  1,00 bytes/sec\n").sent, 1234);
  const other = takeStats('skipping non-regular file "x"\n');
  assertEquals(other, { sent: null, rest: 'skipping non-regular file "x"\n' });
  assertEquals(takeStats("").sent, null);
});
