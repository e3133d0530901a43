/**
 * Unit tests for the option-file reader and the parse_cnf-style lookups. No MariaDB binary
 * is needed here; the differential test compares with my_print_defaults itself.
 */
import assert from "node:assert/strict";
import {
  type DefaultsOptions,
  formatLikeMyPrintDefaults,
  groupNameEquals,
  type OptionEntry,
  optionFileSearchList,
  readAllOptions,
  readOptions,
  requestedGroups,
  SERVER_GROUPS,
} from "../../src/config/option_file.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import { ConfigError, ExitCode } from "../../src/core/errors.ts";

/** Writes files into a fresh temp dir, runs `fn(dir)`, removes the dir. */
async function withFiles(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "optfile-unit-" });
  try {
    for (const [rel, text] of Object.entries(files)) {
      const path = `${dir}/${rel}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(path, text.replaceAll("${D}", dir));
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function read(dir: string, groups: string[], extra: DefaultsOptions = {}) {
  return await readOptions({ defaultsFile: `${dir}/my.cnf`, env: {}, ...extra }, groups);
}

async function rejectsConfig(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${e}`);
    assert.equal(e.exitCode, ExitCode.config);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("entries carry group as written, raw name, unescaped value, file and line", async () => {
  await withFiles(
    { "my.cnf": "# c\n[MySQLd]\nlog_bin = 'a\\tb' # c\nskip-name-resolve\n" },
    async (d) => {
      const entries = await read(d, ["mysqld"]);
      assert.deepEqual(entries, [
        { group: "MySQLd", name: "log_bin", value: "a\tb", file: `${d}/my.cnf`, line: 3 },
        { group: "MySQLd", name: "skip-name-resolve", value: null, file: `${d}/my.cnf`, line: 4 },
      ]);
    },
  );
});

Deno.test("formatLikeMyPrintDefaults prints --name=value, --name for bare keys", () => {
  const e = (name: string, value: string | null): OptionEntry => ({
    group: "g",
    name,
    value,
    file: "f",
    line: 1,
  });
  assert.deepEqual(formatLikeMyPrintDefaults([e("a", "1"), e("b", null), e("c", "")]), [
    "--a=1",
    "--b",
    "--c=",
  ]);
});

Deno.test("requestedGroups expands --mysqld and appends the suffix to every group", () => {
  assert.deepEqual(requestedGroups({ env: {} }, ["sst"]), ["sst"]);
  assert.deepEqual(requestedGroups({ groupSuffix: ".x", env: {} }, ["sst", "--mariadbd"]), [
    "sst",
    ...SERVER_GROUPS,
    "sst.x",
    ...SERVER_GROUPS.map((g) => `${g}.x`),
  ]);
  assert.deepEqual(requestedGroups({ env: { MYSQL_GROUP_SUFFIX: ".e" } }, ["g"]), ["g", "g.e"]);
  assert.deepEqual(requestedGroups({ groupSuffix: "", env: { MYSQL_GROUP_SUFFIX: ".e" } }, ["g"]), [
    "g",
    "g",
  ]);
});

Deno.test("group names compare case-insensitively on ASCII only for UTF-8 text", () => {
  assert.ok(groupNameEquals("MySQLd", "mysqld"));
  assert.ok(!groupNameEquals("mysqld", "mysqld "));
  assert.ok(!groupNameEquals("GRÜSSE", "grüsse")); // Ü and ü differ in their second byte
});

Deno.test("a key before any group is a ConfigError naming file, line and fix", async () => {
  await withFiles({ "my.cnf": "\nport=3306\n[mysqld]\n" }, async (d) => {
    await rejectsConfig(
      read(d, ["mysqld"]),
      new RegExp(`^option file ${d}/my\\.cnf line 2: option "port" comes before any \\[group\\]`),
    );
  });
});

Deno.test("a missing --defaults-file is a ConfigError naming the path", async () => {
  await withFiles({}, async (d) => {
    await rejectsConfig(read(d, ["g"]), /my\.cnf \(--defaults-file\) cannot be opened: .*fix/);
  });
});

Deno.test("!include of a missing file warns (MariaDB is silent) and reading goes on", async () => {
  await withFiles({ "my.cnf": "[g]\na=1\n!include ${D}/gone.cnf\nb=2\n" }, async (d) => {
    const warnings: string[] = [];
    const entries = await read(d, ["g"], { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(formatLikeMyPrintDefaults(entries), ["--a=1", "--b=2"]);
    assert.deepEqual(warnings, [
      `option file ${d}/my.cnf line 3: "!include" names a missing file ${d}/gone.cnf; ` +
      "fix the path or remove the line",
    ]);
  });
});

Deno.test("an error in an included file is a warning; its earlier entries are kept", async () => {
  await withFiles({
    "my.cnf": "[g]\n!include ${D}/inc.cnf\nlast=1\n",
    "inc.cnf": "[g]\nkept=1\n!include\n",
  }, async (d) => {
    const warnings: string[] = [];
    const entries = await read(d, ["g"], { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(formatLikeMyPrintDefaults(entries), ["--kept=1", "--last=1"]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /inc\.cnf line 3: "!include" has no argument.*rest of that file/);
  });
});

Deno.test("a world-writable file is skipped with a warning", async () => {
  await withFiles(
    { "my.cnf": "[g]\n!include ${D}/ww.cnf\n", "ww.cnf": "[g]\nx=1\n" },
    async (d) => {
      await Deno.chmod(`${d}/ww.cnf`, 0o646);
      const warnings: string[] = [];
      assert.deepEqual(await read(d, ["g"], { onWarning: (w) => warnings.push(w) }), []);
      assert.match(warnings.join("\n"), /ww\.cnf is world-writable and is ignored/);
    },
  );
});

Deno.test("noDefaults reads nothing, not even a missing defaults file", async () => {
  assert.deepEqual(await readAllOptions({ noDefaults: true, defaultsFile: "/nonexistent" }), []);
});

Deno.test("readAllOptions returns every group; readOptions filters with the suffix", async () => {
  await withFiles({ "my.cnf": "[a]\nx=1\n[b]\ny=2\n[a.s]\nz=3\n" }, async (d) => {
    const all = await readAllOptions({ defaultsFile: `${d}/my.cnf`, env: {} });
    assert.deepEqual(all.map((e) => e.group), ["a", "b", "a.s"]);
    const some = await read(d, ["A"], { groupSuffix: ".s" });
    assert.deepEqual(formatLikeMyPrintDefaults(some), ["--x=1", "--z=3"]);
  });
});

Deno.test("the extra file sits between the home directories and ~/.my.cnf", async () => {
  const list = await optionFileSearchList({
    env: { MARIADB_HOME: "/srv/maria", MYSQL_HOME: "/srv/mysql" },
    extraFile: "/x/extra.cnf",
  });
  assert.deepEqual(list, [
    "/etc/my.cnf",
    "/etc/mysql/my.cnf",
    "/srv/maria/my.cnf",
    "/x/extra.cnf",
    "~/.my.cnf",
  ]);
});

Deno.test("a home directory equal to a system one moves that one later in the order", async () => {
  assert.deepEqual(await optionFileSearchList({ env: { MYSQL_HOME: "/etc/" } }), [
    "/etc/mysql/my.cnf",
    "/etc/my.cnf",
    "~/.my.cnf",
  ]);
  assert.deepEqual(await optionFileSearchList({ env: { MYSQL_HOME: "~/conf" } }), [
    "/etc/my.cnf",
    "/etc/mysql/my.cnf",
    "~/conf/.my.cnf",
    "~/.my.cnf",
  ]);
});

Deno.test("with a defaults file the search list is that file only (resolved)", async () => {
  await withFiles({ "real.cnf": "[g]\n" }, async (d) => {
    await Deno.symlink(`${d}/real.cnf`, `${d}/link.cnf`);
    assert.deepEqual(
      await optionFileSearchList({ defaultsFile: `${d}/link.cnf`, extraFile: "/x.cnf" }),
      [await Deno.realPath(`${d}/real.cnf`)],
    );
  });
});

Deno.test("~/.my.cnf is read from env HOME", async () => {
  await withFiles({ ".my.cnf": "[optfile_unit_home]\nfrom=home\n" }, async (d) => {
    const entries = await readOptions({ env: { HOME: d } }, ["optfile_unit_home"]);
    assert.deepEqual(formatLikeMyPrintDefaults(entries), ["--from=home"]);
    assert.equal(entries[0].file, `${d}/.my.cnf`);
  });
});

// ---------------------------------------------------------------------------------------------
// OptionLookup

/** Loads a lookup over one temporary option file. */
async function lookup(text: string, suffix?: string): Promise<OptionLookup> {
  const dir = await Deno.makeTempDir({ prefix: "optfile-lookup-unit-" });
  try {
    await Deno.writeTextFile(`${dir}/my.cnf`, text);
    return await OptionLookup.load({ defaultsFile: `${dir}/my.cnf`, groupSuffix: suffix, env: {} });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("lookup: --mysqld|sst prefers the server groups over [sst]", async () => {
  const l = await lookup("[sst]\nssl-ca=/sst\n[galera]\nssl-ca=/server\n");
  assert.equal(l.get("--mysqld|sst", "ssl-ca"), "/server");
  assert.equal(l.get("sst|--mysqld", "ssl-ca"), "/sst");
  assert.equal(l.get("sst", "ssl-cert"), undefined);
});

Deno.test("lookup: loose- prefix and _ in names are normalised; names are case-sensitive", async () => {
  const l = await lookup("[mysqld]\nloose_ssl_ca = /a\nSSL-KEY = /k\n");
  assert.equal(l.get("--mysqld", "ssl-ca"), "/a");
  assert.equal(l.get("--mysqld", "ssl_ca"), "/a");
  assert.equal(l.get("--mysqld", "ssl-key"), undefined);
});

Deno.test("lookup: the last occurrence wins even when empty, then the next set is tried", async () => {
  const l = await lookup("[mysqld]\ntmpdir=/one\ntmpdir=/two\nx=1\nx=\n[sst]\nx=from-sst\n");
  assert.equal(l.get("--mysqld", "tmpdir"), "/two");
  assert.equal(l.get("--mysqld|sst", "x"), "from-sst");
  assert.equal(l.origin("--mysqld|sst", "x")?.replace(/^.*\//, ""), "my.cnf:7 [sst]");
});

Deno.test("lookup: a blank-only value stops the search and yields undefined", async () => {
  const l = await lookup("[sst]\nsockopt = '  '\n[mysqld]\nsockopt = server\n");
  assert.equal(l.get("sst|--mysqld", "sockopt"), undefined);
  assert.match(l.origin("sst|--mysqld", "sockopt") ?? "", /my\.cnf:2 \[sst\]$/);
});

Deno.test("lookup: values are trimmed and cut at an escaped newline", async () => {
  const l = await lookup('[sst]\na = "  spaced\\t "\nb = "one\\ntwo"\n');
  assert.equal(l.get("sst", "a"), "spaced");
  assert.equal(l.get("sst", "b"), "one");
});

Deno.test("lookup: has() sees bare keys that get() reports as unset", async () => {
  const l = await lookup("[mysqld]\nlog-bin\n");
  assert.equal(l.get("--mysqld", "log-bin"), undefined);
  assert.ok(l.has("--mysqld", "log_bin"));
  assert.ok(!l.has("sst", "log-bin"));
});

Deno.test("lookup: a plain mysqld with a suffix tries [mysqld<S>] (and <S><S>) first", async () => {
  const text =
    "[mysqld]\nd=plain\n[mysqld.a]\nd=suffixed\n[mysqld.a.a]\ne=double\n[mysqld]\ne=plain\n";
  const l = await lookup(text, ".a");
  assert.equal(l.get("mysqld", "d"), "suffixed");
  assert.equal(l.get("mysqld", "e"), "double");
  assert.equal(l.get("--mysqld", "e"), "plain"); // --mysqld reads mysqld and mysqld.a only
  const none = await lookup(text);
  assert.equal(none.get("mysqld", "d"), "plain");
});

Deno.test("lookup: [sst<suffix>] is read with [sst], in file order", async () => {
  const l = await lookup("[sst.n1]\ntcert=/n1\n[sst]\ntcert=/all\n", ".n1");
  assert.equal(l.get("sst", "tcert"), "/all");
  assert.match(l.origin("sst", "tcert") ?? "", /:4 \[sst\]$/);
});
