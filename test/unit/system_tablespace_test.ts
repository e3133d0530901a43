/**
 * The InnoDB system tablespace as mariadbd finds it (`innodb_data_file_path` with InnoDB's
 * grammar, placed by `innodb_data_home_dir`), the rsync filters that send exactly its files and
 * clean an earlier set's, and the joiner's check that it received the files its own
 * configuration names.
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import {
  dataFileLocation,
  parseDataFilePath,
  systemTablespaceFrom,
} from "../../src/config/system_tablespace.ts";
import { ConfigError, TransferError } from "../../src/core/errors.ts";
import { parseSstArgs } from "../../src/core/args.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import { type ServerLayout, settingsFrom } from "../../src/config/settings.ts";
import {
  engineFileSets,
  specialTopLevelDirs,
  systemTablespaceDir,
} from "../../src/transfer/layout_files.ts";
import { engineFileJobs } from "../../src/transfer/passes.ts";
import {
  checkReceivedTablespace,
  parseManifest,
  renderManifest,
} from "../../src/transfer/tablespace_manifest.ts";

function throwsConfig(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert(e instanceof ConfigError, `ConfigError expected, got ${e}`);
    assert(re.test(e.message), e.message);
    return;
  }
  throw new Error(`no ConfigError (${re})`);
}

Deno.test("innodb_data_file_path: InnoDB's grammar: several files, units, autoextend with max", () => {
  assertEquals(parseDataFilePath("ibdata1:12M:autoextend"), [
    { name: "ibdata1", sizeMiB: 12, autoextend: true },
  ]);
  assertEquals(parseDataFilePath("a:10M;b:2G;c:2048K;d:1t;e:1048576:autoextend:max:5G"), [
    { name: "a", sizeMiB: 10, autoextend: false },
    { name: "b", sizeMiB: 2048, autoextend: false },
    { name: "c", sizeMiB: 2, autoextend: false },
    { name: "d", sizeMiB: 1048576, autoextend: false },
    { name: "e", sizeMiB: 1, autoextend: true },
  ]);
  // A ':' followed by '/' belongs to the path.
  assertEquals(parseDataFilePath("/d:/ib1:12M").map((e) => e.name), ["/d:/ib1"]);
  // Trailing ';' is accepted, as by InnoDB.
  assertEquals(parseDataFilePath("a:12M;").map((e) => e.name), ["a"]);
});

Deno.test("innodb_data_file_path: syntax errors and sizes under 1M are ConfigErrors naming the key", () => {
  for (
    const bad of ["ibdata1", "ibdata1:", "ibdata1:100K", "a:10M:autoextend;b:10M", "a:10Mx", ""]
  ) {
    throwsConfig(() => parseDataFilePath(bad), /innodb_data_file_path=/);
  }
});

Deno.test("innodb_data_file_path: a raw partition (newraw, raw) is refused naming the key and the fix", () => {
  for (const v of ["/dev/sdb1:10Gnewraw", "ibdata1:12M;/dev/sdb1:10Graw"]) {
    throwsConfig(() => parseDataFilePath(v), /innodb_data_file_path=.*raw partition.*mariabackup/);
  }
});

Deno.test("innodb_data_file_path: files are placed as InnoDB joins innodb_data_home_dir and the name", () => {
  const dd = "/var/lib/mysql";
  const cases: [string | undefined, string, string][] = [
    [undefined, "ibdata1", `${dd}/ibdata1`],
    [undefined, "/abs/ibsys1", "/abs/ibsys1"],
    [undefined, "../up/ibsys1", "/var/lib/up/ibsys1"],
    ["", "ibsys1", `${dd}/ibsys1`],
    ["", "/abs/ibsys1", "/abs/ibsys1"],
    ["./", "/abs/ibsys1", "/abs/ibsys1"],
    [".", "sub/ib1", `${dd}/sub/ib1`],
    ["/srv/home", "ibsys1", "/srv/home/ibsys1"],
    ["/srv/home/", "ibsys1", "/srv/home/ibsys1"],
    // Not a dot home: InnoDB appends even an absolute name.
    ["/srv/home", "/abs/ibsys1", "/srv/home/abs/ibsys1"],
    ["home", "ibsys1", `${dd}/home/ibsys1`],
  ];
  for (const [home, name, want] of cases) {
    assertEquals(dataFileLocation(dd, home, name), want, `${home} + ${name}`);
  }
});

Deno.test("innodb_data_file_path: names rsync cannot select exactly, and one name twice, are refused", () => {
  throwsConfig(() => systemTablespaceFrom("/d", undefined, "ib*1:12M", "x"), /ib\*1/);
  throwsConfig(
    () => systemTablespaceFrom("/d", "", "/a/ib1:12M;/b/ib1:12M:autoextend", "x"),
    /same file name/,
  );
});

async function withSettings(
  cnf: string,
  mysqldArgs: string[],
  fn: (l: ServerLayout, dd: string) => void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "systablespace-unit-" });
  try {
    const file = `${dir}/my.cnf`;
    await Deno.writeTextFile(file, cnf.replaceAll("${D}", dir));
    const args = parseSstArgs([
      ...["--role", "joiner", "--address", "127.0.0.1", "--datadir", `${dir}/data/`],
      ...["--defaults-file", file, "--mysqld-args", ...mysqldArgs],
    ]);
    const opts = await OptionLookup.load({ defaultsFile: file, env: {} });
    fn(settingsFrom(args, opts, 1).layout, `${dir}/data`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("settings: innodb_data_file_path and an empty innodb_data_home_dir are read as mariadbd reads them", async () => {
  await withSettings("[mysqld]\n", [], (l, dd) => {
    assertEquals(l.systemTablespace?.files, [`${dd}/ibdata1`]);
    assertEquals(l.systemTablespace?.setting, "default");
  });
  await withSettings(
    "[mysqld]\ninnodb_data_home_dir=\ninnodb_data_file_path=${D}/sys/a:10M;${D}/sys/b:10M:autoextend\n",
    [],
    (l, dd) => {
      const d = dd.slice(0, -"/data".length);
      assertEquals(l.systemTablespace?.files, [`${d}/sys/a`, `${d}/sys/b`]);
      assert(/my\.cnf:3 \[mysqld\] innodb_data_file_path/.test(l.systemTablespace!.setting));
    },
  );
  // mariadbd's own argv wins over the option file.
  await withSettings(
    "[mysqld]\ninnodb_data_file_path=x:12M\n",
    ["--innodb_data_file_path=ibsys1:12M:autoextend", "--innodb-data-home-dir=/h"],
    (l) => assertEquals(l.systemTablespace?.files, ["/h/ibsys1"]),
  );
  await assertRejects(
    () => withSettings("[mysqld]\ninnodb_data_file_path=/dev/sdb:1Gnewraw\n", [], () => {}),
    ConfigError,
    /raw partition/,
  );
});

function layout(files: string[], over: Partial<ServerLayout> = {}): ServerLayout {
  const dd = "/d";
  return {
    datadir: dd,
    innodbDataHomeDir: dd,
    innodbLogGroupHomeDir: dd,
    innodbUndoDirectory: dd,
    ariaLogDirPath: dd,
    systemTablespace: { value: "v", setting: "[mysqld]", files },
    ...over,
  };
}

Deno.test("engine sets: the system tablespace job sends exactly its files, hides and cleans an earlier ibdata* set, nothing else", () => {
  const [job] = engineFileJobs(layout(["/d/ibsys1", "/d/ibsys2"]));
  assertEquals(job.module, "rsync_tunnel_sst-data_dir");
  assertEquals(job.sources, ["/d/"]);
  assertEquals(job.options, [
    "--recursive",
    "--delete",
    "--exclude=[#]sql-wsrep_sst_snapshot.*/",
    "--exclude=/*/",
    "--include=/ibsys1",
    "--include=/ibsys2",
    "--filter=H /ibdata*",
    "--filter=R /ibdata*",
    "--exclude=**",
  ]);
  assert(job.changesInsidePages, "fine delta blocks for the new names too");
});

Deno.test("engine sets: a system tablespace in two directories is two jobs that never delete each other's files", () => {
  const sets = engineFileSets(layout(["/s1/a", "/s2/b", "/s1/c"])).filter((s) =>
    s.module === "dataHome"
  );
  assertEquals(sets.map((s) => [s.dir, s.patterns, s.keep]), [
    ["/s1", ["a", "c"], ["b"]],
    ["/s2", ["b"], ["a", "c"]],
  ]);
  // The joiner receives it into one directory only.
  throwsConfig(() => systemTablespaceDir(layout(["/s1/a", "/s2/b"])), /one directory/);
  assertEquals(systemTablespaceDir(layout(["/s1/a", "/s1/b"])), "/s1");
  // A system tablespace directory inside the datadir is not a schema.
  assert(specialTopLevelDirs(layout(["/d/sys/a"])).includes("sys"));
});

Deno.test("special dirs: mariadbd's tmpdir directly in the datadir is not a schema; deeper or elsewhere it is not special", () => {
  assert(specialTopLevelDirs(layout(["/d/ibdata1"], { serverTmpdir: "/d/tmp" })).includes("tmp"));
  assert(
    !specialTopLevelDirs(layout(["/d/ibdata1"], { serverTmpdir: "/d/db1/tmp" })).includes("db1"),
  );
  assert(!specialTopLevelDirs(layout(["/d/ibdata1"], { serverTmpdir: "/tmp" })).includes("tmp"));
});

const MINE = { value: "ibsys1:12M:autoextend", setting: "[mysqld]", files: [] as string[] };

Deno.test("joiner check: the donor's record round-trips; other names fail closed naming both values", async () => {
  const dir = await Deno.makeTempDir({ prefix: "systablespace-check-" });
  try {
    const mine = { ...MINE, files: [`${dir}/ibsys1`] };
    await Deno.writeTextFile(`${dir}/ibsys1`, "x");
    const sent = parseManifest(renderManifest({ ...MINE, files: ["/elsewhere/ibsys1"] }), "r");
    assertEquals(sent, { value: "ibsys1:12M:autoextend", names: ["ibsys1"] });
    await checkReceivedTablespace(mine, sent);

    const other = parseManifest(
      renderManifest({
        value: "ibdata1:12M:autoextend",
        setting: "default",
        files: ["/x/ibdata1"],
      }),
      "r",
    );
    await assertRejects(
      () => checkReceivedTablespace(mine, other),
      ConfigError,
      /donor sent .*innodb_data_file_path=ibdata1:12M:autoextend .*this node's innodb_data_file_path=ibsys1:12M:autoextend/,
    );
    // Names agree but a file is not there: nothing arrived.
    await assertRejects(
      () =>
        checkReceivedTablespace({ ...mine, files: [`${dir}/ibsys2`] }, {
          value: "v",
          names: ["ibsys2"],
        }),
      TransferError,
      /ibsys2 .*did not arrive/,
    );
    // A donor without the record (earlier version) sent only ibdata*.
    await assertRejects(() => checkReceivedTablespace(mine, null), ConfigError, /earlier version/);
    await Deno.writeTextFile(`${dir}/ibdata1`, "x");
    await checkReceivedTablespace({ ...mine, files: [`${dir}/ibdata1`] }, null);
    await assertRejects(() => Promise.resolve(parseManifest("garbage\n", "r")), TransferError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
