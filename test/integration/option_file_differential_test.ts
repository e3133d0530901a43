/**
 * Differential tests: our option-file reader against the real `my_print_defaults` (MariaDB
 * 10.11) over a corpus of tricky files generated into temp dirs. Every case checks two things:
 * our output equals the binary's, line for line, and the binary's output equals the expected
 * lines written here (so a case cannot pass by both sides printing nothing).
 *
 * The OptionLookup cases compare against the real `parse_cnf` / `in_config` functions taken
 * from /usr/bin/wsrep_sst_common.
 */
import assert from "node:assert/strict";
import {
  formatLikeMyPrintDefaults,
  optionFileSearchList,
  readOptions,
} from "../../src/config/option_file.ts";
import type { DefaultsOptions } from "../../src/config/option_file.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { which } from "../../src/proc/process.ts";

const MPD = which("my_print_defaults");
const SST_COMMON = "/usr/bin/wsrep_sst_common";
const noBinary = MPD === null;
const TEXT = new TextDecoder();

/** One corpus case: files under a temp dir D ("${D}" in contents is replaced by its path). */
interface Case {
  name: string;
  files: Record<string, string | Uint8Array>;
  /** The groups asked for (default `["g"]`, the one group most cases write). */
  groups?: string[];
  /** The --defaults-file, relative to D (default "my.cnf"). */
  main?: string;
  extra?: string;
  suffix?: string;
  env?: Record<string, string>;
  modes?: Record<string, number>;
  /** Run both with D as the working directory (relative !include paths). */
  cwdIsDir?: boolean;
  /** Expected output lines; or, for a fatal error, a pattern our ConfigError must match. */
  expect: string[] | { error: RegExp };
}

interface MpdResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function myPrintDefaults(
  args: string[],
  env: Record<string, string>,
  cwd?: string,
): Promise<MpdResult> {
  const out = await new Deno.Command(MPD!, {
    args,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
    clearEnv: true,
    cwd,
  }).output();
  return { code: out.code, stdout: TEXT.decode(out.stdout), stderr: TEXT.decode(out.stderr) };
}

async function materialize(dir: string, c: Case): Promise<void> {
  for (const [rel, content] of Object.entries(c.files)) {
    const path = `${dir}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (rel.endsWith("/")) continue; // a directory only
    const data = typeof content === "string"
      ? new TextEncoder().encode(content.replaceAll("${D}", dir))
      : content;
    await Deno.writeFile(path, data);
  }
  for (const [rel, mode] of Object.entries(c.modes ?? {})) await Deno.chmod(`${dir}/${rel}`, mode);
}

/** Our reader's output in my_print_defaults' stdout form, or the ConfigError it threw. */
async function ours(opts: DefaultsOptions, groups: string[]): Promise<string | ConfigError> {
  try {
    const lines = formatLikeMyPrintDefaults(await readOptions(opts, groups));
    return lines.map((l) => `${l}\n`).join("");
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
}

async function withCwd<T>(dir: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!dir) return await fn();
  const before = Deno.cwd();
  Deno.chdir(dir);
  try {
    return await fn();
  } finally {
    Deno.chdir(before);
  }
}

async function runCase(c: Case): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "optfile-diff-" });
  try {
    await materialize(dir, c);
    const main = `${dir}/${c.main ?? "my.cnf"}`;
    const args = [`--defaults-file=${main}`];
    const opts: DefaultsOptions = { defaultsFile: main, env: c.env ?? {} };
    if (c.extra !== undefined) {
      args.push(`--defaults-extra-file=${dir}/${c.extra}`);
      opts.extraFile = `${dir}/${c.extra}`;
    }
    if (c.suffix !== undefined) {
      args.push(`--defaults-group-suffix=${c.suffix}`);
      opts.groupSuffix = c.suffix;
    }
    const cwd = c.cwdIsDir ? dir : undefined;
    const groups = c.groups ?? ["g"];
    const theirs = await myPrintDefaults([...args, ...groups], c.env ?? {}, cwd);
    const mine = await withCwd(cwd, () => ours(opts, groups));
    check(c, theirs, mine);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function check(c: Case, theirs: MpdResult, mine: string | ConfigError): void {
  if (Array.isArray(c.expect)) {
    assert.equal(theirs.code, 0, `my_print_defaults failed: ${theirs.stderr}`);
    assert.equal(theirs.stdout, c.expect.map((l) => `${l}\n`).join(""), "binary vs expectation");
    assert.equal(mine instanceof ConfigError ? `ERROR ${mine.message}` : mine, theirs.stdout);
  } else {
    assert.notEqual(theirs.code, 0, `my_print_defaults succeeded: ${theirs.stdout}`);
    assert.equal(theirs.stdout, "");
    assert.ok(mine instanceof ConfigError, `we did not fail; we printed ${JSON.stringify(mine)}`);
    assert.match(mine.message, c.expect.error);
  }
}

const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(
    parts.flatMap((p) => typeof p === "string" ? [...new TextEncoder().encode(p)] : p),
  );

const CASES: Case[] = [
  {
    name: "inline # after a quoted value is a comment, # inside the quotes is not",
    files: { "my.cnf": '[g]\na = "quoted # not comment" # comment\nb = "x"   # c\n' },
    expect: ["--a=quoted # not comment", "--b=x"],
  },
  {
    name: "single quotes are removed; an inline ; is not a comment",
    files: { "my.cnf": "[g]\nb = 'single' ; not comment\nc = 'it''s'\n" },
    expect: ["--b='single' ; not comment", "--c=it''s"],
  },
  {
    name: "# needs no blank before it to start a comment",
    files: { "my.cnf": "[g]\nc = val#nospace\nz = a #b #c\n" },
    expect: ["--c=val", "--z=a"],
  },
  {
    name: "an unterminated or mismatched quote is kept and hides a later #",
    files: { "my.cnf": '[g]\nd = "unterminated # x\ne = "mismatch\'\nq = "\n' },
    expect: ['--d="unterminated # x', "--e=\"mismatch'", '--q="'],
  },
  {
    name: "escapes \\n \\t \\r \\b \\s \\\\ \\\" \\' work unquoted; unknown and final \\ stay",
    files: { "my.cnf": "[g]\nh = x\\ny\\tz\\\\w\\sv\\\"q\\'r\\bs\\rt\\qu\\\nu = a\\\\\n" },
    expect: ["--h=x", "y\tz\\w v\"q'r\bs\rt\\qu\\", "--u=a\\"],
  },
  {
    name: "inside quotes an escaped quote neither closes the quote nor unhides #",
    files: { "my.cnf": '[g]\na = "x\\"#y"\ns = "\\n"\nv = "a\\"\n' },
    expect: ['--a=x"#y', "--s=", "", "--v=a\\"],
  },
  {
    name: "outside quotes a backslash does not protect #",
    files: { "my.cnf": "[g]\nb = x\\#y\nf = '\\' # after escaped quote\n" },
    expect: ["--b=x\\", "--f='' # after escaped quote"],
  },
  {
    name: "blanks and tabs around = and the value are trimmed; inner and \\s blanks stay",
    files: {
      "my.cnf": '[g]\n  w   x   = y z\n\ttab\t=\ttabval\t\ni = "  inner  "\nt= \\s lead\n',
    },
    expect: ["--w   x=y z", "--tab=tabval", "--i=  inner  ", "--t=  lead"],
  },
  {
    name: "empty values: nothing, \"\" and '' all print --k=",
    files: { "my.cnf": "[g]\nj =   \nc = \"\"\nr = ''\n" },
    expect: ["--j=", "--c=", "--r="],
  },
  {
    name: "bare keys print without =, also with a comment holding an =",
    files: { "my.cnf": "[g]\nk\nx # comment\ny #= no\n" },
    expect: ["--k", "--x", "--y"],
  },
  {
    name: "the first = splits name and value; quotes in a name are kept",
    files: { "my.cnf": '[g]\nm=a=b\n"a=b" = c\nn = "x" "y"\n' },
    expect: ["--m=a=b", '--"a=b" = c', '--n=x" "y'],
  },
  {
    name: "an empty name prints --=value; indented, MariaDB copies the whole line as name",
    files: { "my.cnf": "[g]\n= x\n  = lead\n" },
    expect: ["--=x", "--= lead", "=lead"],
  },
  {
    name: "a key before any group is a fatal error naming the line",
    files: { "my.cnf": "# c\na=1\n[g]\nb=2\n" },
    expect: { error: /my\.cnf line 2: option "a" comes before any \[group\]/ },
  },
  {
    name: "a UTF-8 BOM makes the first header an option before any group (fatal)",
    files: { "my.cnf": bytes([0xef, 0xbb, 0xbf], "[g]\na=1\n") },
    expect: { error: /line 1: .*before any \[group\]/ },
  },
  {
    name: "group names match case-insensitively; trailing blanks and text after ] are ignored",
    files: {
      "my.cnf":
        "[MYSQLD]\nu1=x\n[mysqld ] # c\nu2=x\n[mysqld]]\nu3=x\n[ mysqld ]\nno=x\n[Sst]\ns=1\n",
    },
    groups: ["mysqld", "SST"],
    expect: ["--u1=x", "--u2=x", "--u3=x", "--s=1"],
  },
  {
    name: "a header without ] is a fatal error",
    files: { "my.cnf": "[g]\nb=2\n[h\nc=3\n" },
    expect: { error: /line 3: group header has no closing "\]"/ },
  },
  {
    name: "# and ; comment lines, indented comments and blank lines are skipped",
    files: { "my.cnf": "# top\n[g]\n; semi\n   # indented\n\t; tab\n  \t \n\na=1\n" },
    expect: ["--a=1"],
  },
  {
    name: "CRLF line endings are stripped from headers, values, keys and !include",
    files: {
      "my.cnf": "[g]\r\nb = 2 \r\nc\r\n!include ${D}/i.cnf\r\n",
      "i.cnf": "[g]\r\ni=1\r\n",
    },
    expect: ["--b=2", "--c", "--i=1"],
  },
  {
    name: "latin1 blanks: 0xA0 is trimmed, so a value ending in UTF-8 'à' loses a byte",
    files: { "my.cnf": bytes("[g]\na=voilà\nb=café\nc=x", [0xa0], "\nd=x\v\f\n") },
    expect: ["--a=voil\ufffd", "--b=café", "--c=x", "--d=x"],
  },
  {
    name: "UTF-8 names, values and group names pass through unchanged",
    files: { "my.cnf": "[grüße]\nschlüssel = wert ☃ ü\n[G]\nk=日本\n" },
    groups: ["grüße", "g"],
    expect: ["--schlüssel=wert ☃ ü", "--k=日本"],
  },
  {
    name: "duplicate keys and repeated groups are all printed in file order",
    files: { "my.cnf": "[g]\nk=1\n[h]\nk=h\n[g]\nk=2\nk\n" },
    groups: ["h", "g"],
    expect: ["--k=1", "--k=h", "--k=2", "--k"],
  },
  {
    name: "names are printed as written: log_bin and loose- prefixes stay",
    files: { "my.cnf": "[mysqld]\nlog_bin = mysql-bin\nloose-ssl_ca = /ca.pem\nLOOSE-X=1\n" },
    groups: ["mysqld"],
    expect: ["--log_bin=mysql-bin", "--loose-ssl_ca=/ca.pem", "--LOOSE-X=1"],
  },
  {
    name: "!include chains are followed; the includer's group continues after the include",
    files: {
      "my.cnf": "[g]\na=1\n!include ${D}/b.cnf\nc=3\n",
      "b.cnf": "[h]\nx=1\n[g]\nb=2\n! include ${D}/c.cnf\n",
      "c.cnf": "[g]\nfromc=1\n",
    },
    expect: ["--a=1", "--b=2", "--fromc=1", "--c=3"],
  },
  {
    name: "a missing !include file and unknown or upper-case directives are ignored",
    files: {
      "my.cnf":
        "[g]\na=1\n!include ${D}/nope.cnf\n!INCLUDE ${D}/i.cnf\n!includex ${D}/i.cnf\n!foo\nb=2\n",
      "i.cnf": "[g]\ni=1\n",
    },
    expect: ["--a=1", "--b=2"],
  },
  {
    name: "text after an !include path is part of the path (no comment)",
    files: { "my.cnf": "[g]\n!include ${D}/i.cnf # comment\nb=2\n", "i.cnf": "[g]\ni=1\n" },
    expect: ["--b=2"],
  },
  {
    name: "!include without a path is a fatal error",
    files: { "my.cnf": "[g]\nb=2\n!include \n" },
    expect: { error: /line 3: "!include" has no argument/ },
  },
  {
    name: "on a last line without newline MariaDB drops the path's last character",
    files: {
      "my.cnf": "[g]\nb=2\n!include ${D}/i.cnfX",
      "i.cnf": "[g]\ni=1\n",
    },
    expect: ["--b=2", "--i=1"],
  },
  {
    name: "!includedir reads only *.cnf (case-sensitive, last dot), sorted bytewise",
    files: {
      "my.cnf": "[g]\n!includedir ${D}/d\nafter=1\n",
      ...Object.fromEntries(
        [
          "b.cnf",
          "a.cnf",
          "A.cnf",
          "10.cnf",
          "9.cnf",
          "x.CNF",
          "y.ini",
          "z.cnf~",
          "w.cnf.bak",
          "v.b.cnf",
          ".cnf",
          ".hid.cnf",
          "_u.cnf",
          "noext",
          "sp ace.cnf",
          "é.cnf",
        ].map((f) => [`d/${f}`, `[g]\nfile=${f}\n`]),
      ),
      "d/sub.cnf/s.cnf": "[g]\nfile=in-subdir\n",
    },
    expect: [
      ".cnf",
      ".hid.cnf",
      "10.cnf",
      "9.cnf",
      "A.cnf",
      "_u.cnf",
      "a.cnf",
      "b.cnf",
      "sp ace.cnf",
      "v.b.cnf",
      "é.cnf",
    ].map((f) => `--file=${f}`).concat(["--after=1"]),
  },
  {
    name: "a world-writable file is ignored (here one inside an !includedir)",
    files: {
      "my.cnf": "[g]\n!includedir ${D}/d/\n",
      "d/a.cnf": "[g]\na=1\n",
      "d/w.cnf": "[g]\nw=1\n",
    },
    modes: { "d/w.cnf": 0o666 },
    expect: ["--a=1"],
  },
  {
    name: "a missing !includedir directory is a fatal error",
    files: { "my.cnf": "[g]\na=1\n!includedir ${D}/nodir\n" },
    expect: { error: /line 3: "!includedir" names a directory that cannot be read/ },
  },
  {
    name: "an error inside an included file stops only that file",
    files: {
      "my.cnf": "[g]\na=1\n!include ${D}/bad.cnf\nb=2\n",
      "bad.cnf": "[g]\nbefore=1\n[broken\nafter=1\n",
    },
    expect: ["--a=1", "--before=1", "--b=2"],
  },
  {
    name: "includes nest 10 deep at most: a self-include is read 11 times",
    files: { "my.cnf": "[g]\na=1\n!include ${D}/my.cnf\n" },
    expect: Array(11).fill("--a=1"),
  },
  {
    name: "relative !include paths are relative to the working directory",
    files: { "my.cnf": "[g]\n!include rel.cnf\n", "rel.cnf": "[g]\nrel=1\n" },
    cwdIsDir: true,
    expect: ["--rel=1"],
  },
  {
    name: "--defaults-group-suffix adds G<suffix> for every group, not G<suffix><suffix>",
    files: {
      "my.cnf":
        "[mysqld.lab]\nml=1\n[G.LAB]\ngl=1\n[g]\ng=1\n[sst.lab]\nsl=1\n[galera.lab]\ngal=1\n" +
        "[g.lab.lab]\nx=1\n[mysqld-10.11.lab]\nv=1\n",
    },
    suffix: ".lab",
    groups: ["g", "sst", "--mysqld"],
    expect: ["--ml=1", "--gl=1", "--g=1", "--sl=1", "--gal=1", "--v=1"],
  },
  {
    name: "MYSQL_GROUP_SUFFIX in the environment acts as the suffix when none is given",
    files: { "my.cnf": "[g.env]\nenv=1\n[g]\ng=1\n" },
    env: { MYSQL_GROUP_SUFFIX: ".env" },
    expect: ["--env=1", "--g=1"],
  },
  {
    name: "an explicit empty suffix overrides MYSQL_GROUP_SUFFIX",
    files: { "my.cnf": "[g.env]\nenv=1\n[g]\ng=1\n" },
    env: { MYSQL_GROUP_SUFFIX: ".env" },
    suffix: "",
    expect: ["--g=1"],
  },
  {
    name: "--mysqld reads exactly the 10.11 server groups (decoys elsewhere are not read)",
    files: {
      "my.cnf": [
        "mysqld",
        "server",
        "mysqld-10.11",
        "mariadb",
        "mariadb-10.11",
        "mariadbd",
        "mariadbd-10.11",
        "client-server",
        "galera",
        "client",
        "mysqld-10.6",
        "mariadb-10",
        "mysqld_safe",
        "embedded",
        "mysqld-10.11.19",
        "sst",
      ].map((g) => `[${g}]\nin-${g}=1\n`).join(""),
    },
    groups: ["--mysqld"],
    expect: [
      "mysqld",
      "server",
      "mysqld-10.11",
      "mariadb",
      "mariadb-10.11",
      "mariadbd",
      "mariadbd-10.11",
      "client-server",
      "galera",
    ].map((g) => `--in-${g}=1`),
  },
  {
    name: "--mariadbd is the same as --mysqld",
    files: { "my.cnf": "[galera]\ng=1\n[client]\nc=1\n[mariadbd]\nd=1\n" },
    groups: ["--mariadbd"],
    expect: ["--g=1", "--d=1"],
  },
  {
    name: "with --defaults-file the --defaults-extra-file is not read at all",
    files: { "my.cnf": "[g]\nmain=1\n", "extra.cnf": "[g]\nextra=1\n" },
    extra: "extra.cnf",
    expect: ["--main=1"],
  },
  {
    name: "with --defaults-file a missing --defaults-extra-file is no error",
    files: { "my.cnf": "[g]\nmain=1\n" },
    extra: "missing.cnf",
    expect: ["--main=1"],
  },
  {
    name: "a missing --defaults-file is a fatal error",
    files: { "other.cnf": "[g]\na=1\n" },
    expect: { error: /my\.cnf \(--defaults-file\) cannot be opened/ },
  },
  {
    name: "a world-writable --defaults-file is ignored without error",
    files: { "my.cnf": "[g]\na=1\n" },
    modes: { "my.cnf": 0o666 },
    expect: [],
  },
  {
    name: "lines over 4094 bytes are split; the tail is parsed as a line of its own",
    files: {
      "my.cnf": `[g]\na=${"x".repeat(5000)}\nb=${"y".repeat(4090)}\nc=${"z".repeat(4092)}\n`,
    },
    expect: [
      `--a=${"x".repeat(4092)}`,
      `--${"x".repeat(908)}`,
      `--b=${"y".repeat(4090)}`,
      `--c=${"z".repeat(4092)}`,
    ],
  },
  {
    name: "a NUL byte ends the line",
    files: { "my.cnf": bytes("[g]\nh=x", [0], "y\ni=1\n") },
    expect: ["--h=x", "--i=1"],
  },
  {
    name: "an !include path of 509 bytes or more is ignored silently",
    files: {
      "my.cnf": `[g]\n!include \${D}/${"l/".repeat(260)}x.cnf\n!include \${D}/short.cnf\n`,
      [`${"l/".repeat(260)}x.cnf`]: "[g]\nlong=1\n",
      "short.cnf": "[g]\nshort=1\n",
    },
    expect: ["--short=1"],
  },
  {
    name: 'an empty group [] is a group named ""',
    files: { "my.cnf": "[]\nem=1\n[g] k=v\ng=1\n" },
    groups: ["", "g"],
    expect: ["--em=1", "--g=1"],
  },
];

for (const c of CASES) {
  Deno.test({ name: `option files: ${c.name}`, ignore: noBinary, fn: () => runCase(c) });
}

// ---------------------------------------------------------------------------------------------
// Default search order (no --defaults-file): the real /etc files are read by both sides; HOME,
// MARIADB_HOME and MYSQL_HOME point into a temp dir.

/** A default-search case; every file read writes `from=<which>` into group `[t]`. */
interface SearchCase {
  /** What the case proves; the test is named `default search: <name>`. */
  name: string;
  /** The environment, given the temp dir holding home/, mh/ (MARIADB_HOME), yh/ (MYSQL_HOME). */
  env: (dir: string) => Record<string, string>;
  /** A --defaults-extra-file under the temp dir (extra.cnf exists, others do not). */
  extra?: string;
  /** The `from=` values both must print, in order; or "fatal" when both must fail. */
  from: string[] | "fatal";
}

const SEARCHES: SearchCase[] = [
  {
    name: "MARIADB_HOME, then the extra file, then ~/.my.cnf; MYSQL_HOME unused",
    env: (d) => ({ HOME: `${d}/home`, MARIADB_HOME: `${d}/mh`, MYSQL_HOME: `${d}/yh` }),
    extra: "extra.cnf",
    from: ["mariadb_home", "extra", "home"],
  },
  {
    name: "MYSQL_HOME is read when MARIADB_HOME is unset",
    env: (d) => ({ HOME: `${d}/home`, MYSQL_HOME: `${d}/yh` }),
    from: ["mysql_home", "home"],
  },
  {
    name: "an empty MARIADB_HOME still hides MYSQL_HOME",
    env: (d) => ({ HOME: `${d}/home`, MARIADB_HOME: "", MYSQL_HOME: `${d}/yh` }),
    from: ["home"],
  },
  {
    name: "a missing --defaults-extra-file is fatal",
    env: (d) => ({ HOME: `${d}/home` }),
    extra: "missing.cnf",
    from: "fatal",
  },
];

async function defaultSearchDiff(c: SearchCase): Promise<void> {
  const groups = ["t"];
  const dir = await Deno.makeTempDir({ prefix: "optfile-home-" });
  try {
    for (const sub of ["home", "mh", "yh"]) await Deno.mkdir(`${dir}/${sub}`);
    await Deno.writeTextFile(`${dir}/home/.my.cnf`, "[t]\nfrom=home\n");
    await Deno.writeTextFile(`${dir}/mh/my.cnf`, "[t]\nfrom=mariadb_home\n");
    await Deno.writeTextFile(`${dir}/yh/my.cnf`, "[t]\nfrom=mysql_home\n");
    await Deno.writeTextFile(`${dir}/extra.cnf`, "[t]\nfrom=extra\n");
    const e = c.env(dir);
    const args = c.extra ? [`--defaults-extra-file=${dir}/${c.extra}`] : [];
    const theirs = await myPrintDefaults([...args, ...groups], e);
    const opts = { env: e, extraFile: c.extra && `${dir}/${c.extra}` };
    const mine = await ours(opts, groups);
    if (c.from === "fatal") {
      assert.notEqual(theirs.code, 0);
      assert.ok(mine instanceof ConfigError);
      return;
    }
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(mine, theirs.stdout);
    const fromLines = theirs.stdout.split("\n").filter((l) => l.startsWith("--from="));
    assert.deepEqual(fromLines, c.from.map((f) => `--from=${f}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const c of SEARCHES) {
  Deno.test({
    name: `default search: ${c.name}`,
    ignore: noBinary,
    fn: () => defaultSearchDiff(c),
  });
}

Deno.test({
  name: "default search: --mysqld over this machine's /etc/mysql tree matches",
  ignore: noBinary,
  fn: async () => {
    const env = { HOME: "/nonexistent-home" };
    for (const groups of [["--mysqld"], ["client", "mysqldump"], ["--mysqld", "sst"]]) {
      const theirs = await myPrintDefaults(groups, env);
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(await ours({ env }, groups), theirs.stdout);
    }
  },
});

/** The file list printed by `my_print_defaults --help`. */
async function helpFileList(args: string[], env: Record<string, string>): Promise<string[]> {
  const help = await myPrintDefaults([...args, "--help"], env);
  const lines = help.stdout.split("\n");
  const at = lines.findIndex((l) => l.startsWith("Default options are read from"));
  assert.ok(at >= 0, "no file list in --help");
  return lines[at + 1].trim().split(" ");
}

Deno.test({
  name: "search list equals my_print_defaults --help for MYSQL_HOME/MARIADB_HOME variants",
  ignore: noBinary,
  fn: async () => {
    const variants: Record<string, string>[] = [
      {},
      { MYSQL_HOME: "/etc" },
      { MYSQL_HOME: "/etc/mysql/../" },
      { MYSQL_HOME: "/etc/mysql" },
      { MYSQL_HOME: "./yh" },
      { MYSQL_HOME: "//tmp//opt/yh/." },
      { MYSQL_HOME: "~/x" },
      { MYSQL_HOME: "~" },
      { MARIADB_HOME: "", MYSQL_HOME: "/srv" },
      { MARIADB_HOME: "/srv/m", MYSQL_HOME: "/srv/y" },
    ];
    for (const env of variants) {
      const want = await helpFileList([], env);
      assert.deepEqual(await optionFileSearchList({ env }), want, JSON.stringify(env));
    }
    const extra = await helpFileList(["--defaults-extra-file=/tmp/x.cnf"], { MYSQL_HOME: "/h" });
    assert.deepEqual(
      await optionFileSearchList({ env: { MYSQL_HOME: "/h" }, extraFile: "/tmp/x.cnf" }),
      extra,
    );
  },
});

// ---------------------------------------------------------------------------------------------
// OptionLookup against the real parse_cnf / in_config of wsrep_sst_common.

const noSstCommon = noBinary || !(() => {
  try {
    return Deno.statSync(SST_COMMON).isFile;
  } catch {
    return false;
  }
})();

/** Runs the script's own parse_cnf and in_config functions (extracted from the file). */
async function stockLookup(
  cnf: string,
  suffix: string | undefined,
  groups: string,
  key: string,
): Promise<{ value: string; present: boolean }> {
  const script = [
    `eval "$(sed -n '/^trim_string()/,/^}/p;/^parse_cnf()/,/^}/p;/^in_config()/,/^}/p' ${SST_COMMON})"`,
    `MY_PRINT_DEFAULTS=my_print_defaults`,
    `WSREP_SST_OPT_DEFAULT="--defaults-file=$1"`,
    `WSREP_SST_OPT_SUFFIX_VALUE="$2"`,
    `WSREP_SST_OPT_SUFFIX_DEFAULT=\${2:+--defaults-group-suffix=$2}`,
    `printf '%s\\n' "$(parse_cnf "$3" "$4" '')" "$(in_config "$3" "$4")"`,
  ].join("\n");
  const out = await new Deno.Command("bash", {
    args: ["-c", script, "lookup", cnf, suffix ?? "", groups, key],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    clearEnv: true,
  }).output();
  assert.equal(out.code, 0, TEXT.decode(out.stderr));
  const [value, present] = TEXT.decode(out.stdout).split("\n");
  return { value, present: present === "1" };
}

const LOOKUP_CNF = `[mysqld]
ssl_ca = /server/ca.pem
loose-ssl-cert = /server/cert.pem
tmpdir = /tmp/one
tmpdir = /tmp/two
innodb_undo_directory
backup-threads = 4
backup_threads =
sockopt = server-sockopt
[mariadb]
loose_sst_max_binlogs = "  3  "
[sst]
ssl-ca = /sst/ca.pem
tcert = /sst/tcert.pem
backup-threads = 8
sockopt = "  "
multi = "first\\nsecond"
[mysqld.lab]
tmpdir = /tmp/lab
[mysqld.lab.lab]
tmpdir = /tmp/lablab
SSL-KEY = upper
[sst.lab]
tcert = /sst/lab.pem
`;

const LOOKUPS: [string, string][] = [
  ["--mysqld|sst", "ssl-ca"],
  ["sst", "ssl-ca"],
  ["--mysqld|sst", "ssl-cert"],
  ["sst", "tcert"],
  ["--mysqld", "tmpdir"],
  ["mysqld", "tmpdir"],
  ["--mysqld|sst", "backup-threads"],
  ["--mysqld", "innodb-undo-directory"],
  ["--mysqld|sst", "sst-max-binlogs"],
  ["sst|--mysqld", "sockopt"],
  ["sst", "multi"],
  ["--mysqld", "ssl-key"],
  ["--mysqld|sst", "missing"],
];

for (const suffix of [undefined, ".lab"]) {
  Deno.test({
    name: `OptionLookup equals wsrep_sst_common parse_cnf/in_config (suffix ${suffix ?? "none"})`,
    ignore: noSstCommon,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "optfile-lookup-" });
      try {
        const cnf = `${dir}/my.cnf`;
        await Deno.writeTextFile(cnf, LOOKUP_CNF);
        const lookup = await OptionLookup.load({ defaultsFile: cnf, groupSuffix: suffix, env: {} });
        let nonEmpty = 0;
        for (const [groups, key] of LOOKUPS) {
          const stock = await stockLookup(cnf, suffix, groups, key);
          const what = `${groups} ${key}`;
          assert.equal(lookup.get(groups, key) ?? "", stock.value, `value of ${what}`);
          assert.equal(lookup.has(groups, key), stock.present, `presence of ${what}`);
          if (stock.value !== "") nonEmpty++;
        }
        assert.ok(nonEmpty >= 8, "too few lookups found a value; the corpus is broken");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
