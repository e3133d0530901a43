/**
 * Unit tests for the mariadbd → script argument contract (src/core/args.ts, docs/sst-protocol.md §1.3, §1.4,
 * §1.7): observed 10.11 argv, older forms, role/datadir errors, and what may (not) be read
 * from `--mysqld-args`.
 *
 * @module
 */
import { assertEquals, assertRejects } from "../support/assert.ts";
import {
  normaliseOptionName,
  parseSstArgs,
  serverPathsFromMysqldArgs,
  splitMysqldArgs,
} from "../../src/core/args.ts";
import { ConfigError, ExitCode } from "../../src/core/errors.ts";

/** Drops keys whose value is undefined (recursively), so expectations list only set fields. */
function defined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

const DATADIR = "/var/lib/mysql/";
const CNF = "/etc/mysql/my.cnf";
const UUID = "f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc";

/** The joiner argv observed from 10.11.19 (docs/sst-protocol.md §1.3), quotes removed by sh. */
const JOINER_10_11 = [
  "--role",
  "joiner",
  "--address",
  "127.0.0.1:4424",
  "--datadir",
  DATADIR,
  "--defaults-file",
  CNF,
  "--parent",
  "8524",
  "--progress",
  "0",
  "--binlog",
  "mysql-bin",
  "--mysqld-args",
  `--defaults-file=${CNF}`,
  "--user=mysql",
  "--loose-sst-test-arg=a b$c",
];

/** The donor argv observed from 10.11.19 (docs/sst-protocol.md §1.3), without `--bypass`. */
function donor1011(bypass: boolean): string[] {
  return [
    "--role",
    "donor",
    "--address",
    "127.0.0.1:4424/rsync_sst",
    "--local-port",
    "3311",
    "--socket",
    "/run/mysqld/mysqld.sock",
    "--progress",
    "0",
    "--datadir",
    DATADIR,
    "--defaults-file",
    CNF,
    "--gtid",
    `${UUID}:6`,
    "--gtid-domain-id",
    "0",
    "--binlog",
    "mysql-bin",
    ...(bypass ? ["--bypass"] : []),
    "--mysqld-args",
    `--defaults-file=${CNF}`,
    "--user=mysql",
    "--wsrep-new-cluster",
  ];
}

/** Minimal valid SST part for tests that vary one thing. */
const MINIMAL = ["--role", "joiner", "--address", "10.0.0.2", "--datadir", DATADIR];

Deno.test("args: 10.11 joiner argv as observed parses to exactly these values", () => {
  assertEquals(defined(parseSstArgs(JOINER_10_11)), {
    role: "joiner",
    address: "127.0.0.1:4424",
    datadir: DATADIR,
    defaultsFile: CNF,
    parent: 8524,
    progress: false,
    binlog: "mysql-bin",
    bypass: false,
    server: { logBin: "mysql-bin" },
  });
});

Deno.test("args: 10.11 donor argv as observed (SST) parses to exactly these values", () => {
  assertEquals(defined(parseSstArgs(donor1011(false))), {
    role: "donor",
    address: "127.0.0.1:4424/rsync_sst",
    datadir: DATADIR,
    defaultsFile: CNF,
    progress: false,
    binlog: "mysql-bin",
    localPort: 3311,
    socket: "/run/mysqld/mysqld.sock",
    gtid: `${UUID}:6`,
    gtidDomainId: "0",
    bypass: false,
    server: { logBin: "mysql-bin" },
  });
});

Deno.test("args: 10.11 donor argv with --bypass (IST) sets bypass", () => {
  const a = parseSstArgs(donor1011(true));
  assertEquals(a.bypass, true);
  assertEquals(a.gtid, `${UUID}:6`);
});

Deno.test("args: defaults-extra-file, group suffix and --progress 1 are read", () => {
  const a = parseSstArgs([
    "--role",
    "joiner",
    "--address",
    "127.0.0.1",
    "--datadir",
    DATADIR,
    "--defaults-file",
    CNF,
    "--defaults-extra-file",
    "/etc/mysql/extra.cnf",
    "--defaults-group-suffix",
    ".lab",
    "--parent",
    "77",
    "--progress",
    "1",
  ]);
  assertEquals(a.defaultsFile, CNF);
  assertEquals(a.defaultsExtraFile, "/etc/mysql/extra.cnf");
  assertEquals(a.defaultsGroupSuffix, ".lab");
  assertEquals(a.parent, 77);
  assertEquals(a.progress, true);
});

Deno.test("args: --progress other than 1 and absent --progress (10.3) mean no progress", () => {
  assertEquals(parseSstArgs([...MINIMAL, "--progress", "2"]).progress, false);
  assertEquals(parseSstArgs(MINIMAL).progress, false);
});

Deno.test("args: 10.3 quoted numbers arrive unquoted from sh and are parsed as numbers", () => {
  // 10.3: --parent '8524' / --local-port '3311' / --gtid-domain-id '3'; sh strips the quotes.
  const joiner = parseSstArgs([...MINIMAL, "--parent", "8524"]);
  assertEquals(joiner.parent, 8524);
  const donor = parseSstArgs([
    "--role",
    "donor",
    "--address",
    "10.0.0.2:4444/rsync_tunnel_sst/1",
    "--local-port",
    "3311",
    "--socket",
    "/tmp/s.sock",
    "--datadir",
    DATADIR,
    "--gtid",
    `${UUID}:9`,
    "--gtid-domain-id",
    "3",
  ]);
  assertEquals(donor.localPort, 3311);
  assertEquals(donor.gtidDomainId, "3");
  assertEquals(donor.progress, false);
});

Deno.test("args: a number still wrapped in literal quotes is not digits → ConfigError 22", async () => {
  const e = await assertRejects(
    () => parseSstArgs([...MINIMAL, "--parent", "'8524'"]),
    ConfigError,
    /--parent/,
  );
  assertEquals((e as ConfigError).exitCode, 22);
  await assertRejects(
    () => parseSstArgs([...MINIMAL, "--local-port", "33a"]),
    ConfigError,
    /--local-port '33a'/,
  );
});

Deno.test("args: 10.1/10.2 joiner form with an empty '' positional", () => {
  const a = parseSstArgs([
    "--role",
    "joiner",
    "--address",
    "10.0.0.2",
    "--datadir",
    DATADIR,
    "--defaults-file",
    CNF,
    "--parent",
    "1234",
    "",
  ]);
  assertEquals(defined(a), {
    role: "joiner",
    address: "10.0.0.2",
    datadir: DATADIR,
    defaultsFile: CNF,
    parent: 1234,
    progress: false,
    bypass: false,
    server: {},
  });
});

Deno.test("args: 10.1/10.2 donor form with '' before --gtid and no --local-port", () => {
  const a = parseSstArgs([
    "--role",
    "donor",
    "--address",
    "10.0.0.2:4444/rsync_sst",
    "--socket",
    "/run/mysqld/mysqld.sock",
    "--datadir",
    DATADIR,
    "--defaults-file",
    CNF,
    "",
    "--gtid",
    `${UUID}:5`,
    "--gtid-domain-id",
    "0",
  ]);
  assertEquals(a.role, "donor");
  assertEquals(a.socket, "/run/mysqld/mysqld.sock");
  assertEquals(a.defaultsFile, CNF);
  assertEquals(a.gtid, `${UUID}:5`);
  assertEquals(a.gtidDomainId, "0");
  assertEquals(a.localPort, undefined);
  assertEquals(a.bypass, false);
});

Deno.test("args: missing --role means donor (stock common)", () => {
  assertEquals(parseSstArgs(["--address", "10.0.0.2", "--datadir", DATADIR]).role, "donor");
});

Deno.test("args: --role is case-insensitive for joiner/donor", () => {
  assertEquals(
    parseSstArgs(["--role", "JOINER", "--address", "h", "--datadir", "/d"]).role,
    "joiner",
  );
});

Deno.test("args: a bad --role is a ConfigError with exit 22", async () => {
  for (const role of ["master", "", "joiner2"]) {
    const e = await assertRejects(
      () => parseSstArgs(["--role", role, "--address", "10.0.0.2", "--datadir", DATADIR]),
      ConfigError,
      /--role/,
    );
    assertEquals((e as ConfigError).exitCode, ExitCode.config);
    assertEquals((e as ConfigError).exitCode, 22);
  }
});

Deno.test("args: missing --datadir is a ConfigError naming --datadir", async () => {
  const e = await assertRejects(
    () => parseSstArgs(["--role", "joiner", "--address", "10.0.0.2"]),
    ConfigError,
    /--datadir/,
  );
  assertEquals((e as ConfigError).exitCode, 22);
});

Deno.test("args: --datadir '(null)' or '' counts as missing", async () => {
  for (const v of ["(null)", ""]) {
    await assertRejects(
      () => parseSstArgs(["--role", "joiner", "--address", "10.0.0.2", "--datadir", v]),
      ConfigError,
      /--datadir/,
    );
  }
});

Deno.test("args: missing or empty --address is a ConfigError", async () => {
  await assertRejects(() => parseSstArgs(["--datadir", DATADIR]), ConfigError, /--address/);
  await assertRejects(
    () => parseSstArgs(["--address", "(null)", "--datadir", DATADIR]),
    ConfigError,
    /--address/,
  );
});

Deno.test("args: '(null)' values of optional options are treated as absent", () => {
  const a = parseSstArgs([
    ...MINIMAL,
    "--defaults-file",
    "(null)",
    "--binlog",
    "(null)",
    "--socket",
    "(null)",
  ]);
  assertEquals(a.defaultsFile, undefined);
  assertEquals(a.binlog, undefined);
  assertEquals(a.server.logBin, undefined);
  assertEquals(a.socket, undefined);
});

Deno.test("args: unknown options with a value ('--unknown value') are ignored", () => {
  const withUnknown = parseSstArgs([
    "--role",
    "joiner",
    "--unknown",
    "value",
    "--address",
    "10.0.0.2",
    "--mysqld-version",
    "10.11.19",
    "--datadir",
    DATADIR,
    "--other=x",
  ]);
  assertEquals(withUnknown, parseSstArgs(MINIMAL));
});

Deno.test("args: --bypass after --mysqld-args is mariadbd's argument, not ours", () => {
  const a = parseSstArgs([...donor1011(false), "--bypass"]);
  assertEquals(a.bypass, false);
});

Deno.test("args: SST options after --mysqld-args never change role, bypass, address or datadir", () => {
  const a = parseSstArgs([
    ...MINIMAL,
    "--mysqld-args",
    "--role",
    "donor",
    "--bypass",
    "--address",
    "6.6.6.6:1/evil",
    "--datadir",
    "/evil",
    "--datadir=/evil2",
    "--binlog",
    "evil-bin",
    "--parent",
    "1",
  ]);
  assertEquals(a.role, "joiner");
  assertEquals(a.bypass, false);
  assertEquals(a.address, "10.0.0.2");
  assertEquals(a.datadir, DATADIR);
  assertEquals(a.binlog, undefined);
  assertEquals(a.parent, undefined);
});

Deno.test("args: splitMysqldArgs splits at the first --mysqld-args only", () => {
  assertEquals(splitMysqldArgs(["--role", "joiner", "--mysqld-args", "-x", "--mysqld-args"]), [
    ["--role", "joiner"],
    ["-x", "--mysqld-args"],
  ]);
  assertEquals(splitMysqldArgs(["--role", "joiner"]), [["--role", "joiner"], []]);
});

Deno.test("args: directory options (and innodb_flush_log_at_trx_commit) are taken from --mysqld-args with _ and loose- normalised", () => {
  const a = parseSstArgs([
    ...MINIMAL,
    "--mysqld-args",
    "--innodb_undo_directory=/srv/undo",
    "--loose-innodb-log-group-home-dir=/srv/redo",
    "--innodb-data-home-dir=/srv/ibdata",
    "--loose_aria_log_dir_path=/srv/aria",
    "--log-bin-index=/srv/binlog/idx.index",
    "--log_basename=node1",
    "--loose-innodb_flush_log_at_trx_commit=2",
  ]);
  assertEquals(defined(a.server), {
    innodbUndoDirectory: "/srv/undo",
    innodbLogGroupHomeDir: "/srv/redo",
    innodbDataHomeDir: "/srv/ibdata",
    ariaLogDirPath: "/srv/aria",
    logBinIndex: "/srv/binlog/idx.index",
    logBasename: "node1",
    innodbFlushLogAtTrxCommit: "2",
  });
});

Deno.test("args: -h/dir and -h /dir in --mysqld-args give the datadir when --datadir is absent", () => {
  assertEquals(
    parseSstArgs(["--address", "h", "--mysqld-args", "-h/srv/data"]).datadir,
    "/srv/data",
  );
  assertEquals(
    parseSstArgs(["--address", "h", "--mysqld-args", "-h", "/srv/data2"]).datadir,
    "/srv/data2",
  );
  assertEquals(
    parseSstArgs(["--address", "h", "--mysqld-args", "--datadir=/srv/data3/"]).datadir,
    "/srv/data3/",
  );
});

Deno.test("args: explicit --datadir wins over -h and --datadir= in --mysqld-args", () => {
  const a = parseSstArgs([...MINIMAL, "--mysqld-args", "-h/other", "--datadir=/other2"]);
  assertEquals(a.datadir, DATADIR);
});

Deno.test("args: serverPathsFromMysqldArgs reads -h/dir and -h /dir", () => {
  assertEquals(defined(serverPathsFromMysqldArgs(["-h/a"])), { datadir: "/a" });
  assertEquals(defined(serverPathsFromMysqldArgs(["-h", "/b", "--user=mysql"])), {
    datadir: "/b",
  });
});

Deno.test("args: a bare --log-bin in --mysqld-args means the default name (empty string)", () => {
  const a = parseSstArgs([...MINIMAL, "--mysqld-args", "--log-bin"]);
  assertEquals(a.server.logBin, "");
  assertEquals(a.binlog, undefined);
});

Deno.test("args: --skip-log-bin after --log-bin turns binary logging off; order matters", () => {
  assertEquals(serverPathsFromMysqldArgs(["--log-bin=x", "--skip-log-bin"]).logBin, undefined);
  assertEquals(serverPathsFromMysqldArgs(["--log-bin", "--disable-log-bin"]).logBin, undefined);
  assertEquals(serverPathsFromMysqldArgs(["--skip-log-bin", "--log-bin=y"]).logBin, "y");
});

Deno.test("args: the last occurrence of a directory option in --mysqld-args wins", () => {
  const p = serverPathsFromMysqldArgs([
    "--innodb-undo-directory=/first",
    "--innodb_undo_directory=/second",
    "--log-bin=a",
    "--log-bin=b",
    "-h/d1",
    "--datadir=/d2",
  ]);
  assertEquals(p.innodbUndoDirectory, "/second");
  assertEquals(p.logBin, "b");
  assertEquals(p.datadir, "/d2");
});

Deno.test("args: explicit SST options win over the same options in --mysqld-args", () => {
  const a = parseSstArgs([
    ...MINIMAL,
    "--innodb-undo-directory",
    "/explicit/undo",
    "--aria-log-dir-path",
    "/explicit/aria",
    "--binlog",
    "explicit-bin",
    "--binlog-index",
    "explicit-bin.index",
    "--log-basename",
    "explicit",
    "--mysqld-args",
    "--innodb-undo-directory=/m/undo",
    "--aria-log-dir-path=/m/aria",
    "--log-bin=m-bin",
    "--log-bin-index=m-bin.index",
    "--log-basename=m",
  ]);
  assertEquals(defined(a.server), {
    innodbUndoDirectory: "/explicit/undo",
    ariaLogDirPath: "/explicit/aria",
    logBin: "explicit-bin",
    logBinIndex: "explicit-bin.index",
    logBasename: "explicit",
  });
});

Deno.test("args: --log-bin / --log-bin-index are aliases of --binlog / --binlog-index", () => {
  const a = parseSstArgs([...MINIMAL, "--log-bin", "node-bin", "--log-bin-index", "node.index"]);
  assertEquals(a.binlog, "node-bin");
  assertEquals(a.binlogIndex, "node.index");
  assertEquals(a.server.logBin, "node-bin");
  assertEquals(a.server.logBinIndex, "node.index");
});

Deno.test("args: --binlog wins over its alias --log-bin", () => {
  const a = parseSstArgs([...MINIMAL, "--log-bin", "alias-bin", "--binlog", "real-bin"]);
  assertEquals(a.binlog, "real-bin");
});

Deno.test("args: an option value in --mysqld-args without '=' is not taken as a directory", () => {
  // mariadbd's argv: '--innodb-undo-directory' followed by a separate word is not our concern;
  // only the '=value' form is read (as the stock common does).
  const p = serverPathsFromMysqldArgs(["--innodb-undo-directory", "/x", "--user=mysql"]);
  assertEquals(p.innodbUndoDirectory, undefined);
});

Deno.test("args: normaliseOptionName strips --, loose- / loose_, folds _ and case", () => {
  assertEquals(normaliseOptionName("--loose_innodb_undo_directory"), "innodb-undo-directory");
  assertEquals(normaliseOptionName("--loose-Log_Bin"), "log-bin");
  assertEquals(normaliseOptionName("--datadir"), "datadir");
  assertEquals(normaliseOptionName("--looser-x"), "looser-x");
});
