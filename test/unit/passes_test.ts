/**
 * Unit tests for the donor's rsync job list (src/transfer/passes.ts, docs/sst-protocol.md §5), the layout's
 * file sets and the joiner's daemon-side protection (src/transfer/layout_files.ts), and the
 * settings resolved from arguments and option files (src/config/settings.ts, docs/sst-protocol.md §8.3).
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import {
  binlogJob,
  completionJob,
  DELTA_BLOCK_SIZE,
  deltaBlockSize,
  engineFileJobs,
  excludingFrom,
  FINE_BLOCK_SIZE,
  listSchemaDirs,
  type RsyncJob,
  type SchemaDir,
  schemaJobs,
  shareSchema,
  streamLoads,
  structureJob,
  withDeltaBlock,
} from "../../src/transfer/passes.ts";
import { SNAPSHOT_EXCLUDE, SNAPSHOT_RULE, TreeWalk } from "../../src/transfer/selection.ts";
import {
  datadirDaemonExcludes,
  specialTopLevelDirs,
  strayEngineFiles,
} from "../../src/transfer/layout_files.ts";
import {
  DEFAULT_TIMEOUTS,
  resolveDir,
  type ServerLayout,
  type Settings,
  settingsFrom,
} from "../../src/config/settings.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import { parseSstArgs } from "../../src/core/args.ts";
import { ConfigError } from "../../src/core/errors.ts";
import type { Tunnel } from "../../src/transfer/rsync_runner.ts";
import { NO_WIRE_OPTIONS } from "../../src/config/wire_options.ts";

const DD = "/var/lib/mysql";

/** The default layout: every engine directory is the datadir. */
function defaultLayout(over: Partial<ServerLayout> = {}): ServerLayout {
  return {
    datadir: DD,
    innodbDataHomeDir: DD,
    innodbLogGroupHomeDir: DD,
    innodbUndoDirectory: DD,
    ariaLogDirPath: DD,
    ...over,
  };
}

/** Every engine directory moved out of the datadir, binlogs too. */
const SPLIT_OUTSIDE = defaultLayout({
  innodbDataHomeDir: "/srv/ibdata",
  innodbLogGroupHomeDir: "/srv/redo",
  innodbUndoDirectory: "/srv/undo",
  ariaLogDirPath: "/srv/aria",
  binlogBase: "/srv/binlog/mysql-bin",
  binlogIndex: "/srv/binlog/mysql-bin.index",
});

/** Every engine directory in its own subdirectory of the datadir. */
const SPLIT_INSIDE = defaultLayout({
  innodbDataHomeDir: `${DD}/ibdata`,
  innodbLogGroupHomeDir: `${DD}/redo`,
  innodbUndoDirectory: `${DD}/undo`,
  ariaLogDirPath: `${DD}/aria`,
  binlogBase: `${DD}/logs/bin/mysql-bin`,
  binlogIndex: `${DD}/logs/bin/mysql-bin.index`,
});

/** The four engine-file jobs' modules and filters, identical in every layout. */
const ENGINE_JOBS: [string, string[]][] = [
  ["rsync_tunnel_sst-data_dir", ["--include=/ibdata1"]],
  ["rsync_tunnel_sst-log_dir", ["--include=/ib_logfile0"]],
  ["rsync_tunnel_sst-undo_dir", ["--include=/undo*"]],
  ["rsync_tunnel_sst-aria_log", ["--include=/aria_log_control", "--include=/aria_log.*"]],
];

function includes(options: string[]): string[] {
  return options.filter((o) => o.startsWith("--include=") && o !== "--include=/*/");
}

// ---------------------------------------------------------------------------------------------
// passes

Deno.test("passes: structureJob sends top-level directories only, never an engine file", () => {
  for (const layout of [defaultLayout(), SPLIT_OUTSIDE, SPLIT_INSIDE]) {
    const job = structureJob(layout);
    assertEquals(job.sources, [`${DD}/`]);
    assertEquals(job.module, "rsync_tunnel_sst");
    assertEquals(job.options.slice(0, 2), ["--dirs", "--delete"]);
    assertEquals(includes(job.options), []);
    // directories only, and the catch-all exclude comes last
    assertEquals(job.options.slice(-2), ["--include=/*/", "--exclude=/*"]);
  }
});

Deno.test("passes: structureJob excludes lost+found, snapshots and the binlog staging dir first", () => {
  const opts = structureJob(defaultLayout()).options;
  const firstInclude = opts.findIndex((o) => o.startsWith("--include="));
  for (const name of ["lost+found", ".zfs", ".snapshot", "wsrep_sst_binlogs.tmp"]) {
    const at = opts.indexOf(`--exclude=/${name}`);
    assert(at >= 0 && at < firstInclude, `--exclude=/${name} must precede the includes`);
  }
});

Deno.test("passes: engineFileJobs always sends the four engine file sets through their own modules, from the donor's directories", () => {
  const cases: { name: string; layout: ServerLayout; sources: string[] }[] = [
    { name: "default", layout: defaultLayout(), sources: [`${DD}/`, `${DD}/`, `${DD}/`, `${DD}/`] },
    {
      name: "outside the datadir",
      layout: SPLIT_OUTSIDE,
      sources: ["/srv/ibdata/", "/srv/redo/", "/srv/undo/", "/srv/aria/"],
    },
    {
      name: "inside the datadir",
      layout: SPLIT_INSIDE,
      sources: [`${DD}/ibdata/`, `${DD}/redo/`, `${DD}/undo/`, `${DD}/aria/`],
    },
    {
      name: "undo only moved",
      layout: defaultLayout({ innodbUndoDirectory: `${DD}/undo` }),
      sources: [`${DD}/`, `${DD}/`, `${DD}/undo/`, `${DD}/`],
    },
  ];
  for (const c of cases) {
    const jobs = engineFileJobs(c.layout);
    assertEquals(jobs.map((j) => j.sources[0]), c.sources, c.name);
    assertEquals(jobs.map((j) => [j.module, includes(j.options)]), ENGINE_JOBS, c.name);
    for (const j of jobs) {
      assertEquals(j.sources.length, 1, c.name);
      // files only: top-level directories excluded before the includes, everything else after
      assertEquals(
        j.options.slice(0, 4),
        ["--recursive", "--delete", SNAPSHOT_EXCLUDE, "--exclude=/*/"],
        c.name,
      );
      assertEquals(j.options[j.options.length - 1], "--exclude=**", c.name);
    }
  }
});

Deno.test("passes: specialTopLevelDirs names the top-level dir of each engine/binlog dir inside the datadir", () => {
  const cases: { name: string; layout: ServerLayout; dirs: string[] }[] = [
    { name: "default", layout: defaultLayout(), dirs: [] },
    { name: "outside", layout: SPLIT_OUTSIDE, dirs: [] },
    { name: "inside", layout: SPLIT_INSIDE, dirs: ["aria", "ibdata", "logs", "redo", "undo"] },
    {
      name: "sibling sharing the datadir's prefix",
      layout: defaultLayout({ innodbUndoDirectory: `${DD}-undo` }),
      dirs: [],
    },
    {
      name: "flat binlogs in the datadir",
      layout: defaultLayout({
        binlogBase: `${DD}/mysql-bin`,
        binlogIndex: `${DD}/mysql-bin.index`,
      }),
      dirs: [],
    },
    {
      name: "nested engine dir",
      layout: defaultLayout({ ariaLogDirPath: `${DD}/engine/aria` }),
      dirs: ["engine"],
    },
  ];
  for (const c of cases) {
    assertEquals(
      specialTopLevelDirs(c.layout).sort(),
      [...c.dirs, "wsrep_sst_binlogs.tmp"].sort(),
      c.name,
    );
    const opts = structureJob(c.layout).options;
    for (const d of c.dirs) {
      const at = opts.indexOf(`--exclude=/${d}`);
      assert(at >= 0 && at < opts.indexOf("--include=/*/"), `${c.name}: /${d} excluded first`);
    }
  }
});

Deno.test("layout files: the joiner's datadir module protects its own special dirs and filesystem artefacts, whole subtrees, names taken literally", () => {
  const base = [
    "/lost+found/***",
    "/.zfs/***",
    "/.fseventsd/***",
    "/.Trashes/***",
    "/.snapshot/***",
    "/wsrep_sst_binlogs.tmp/***",
  ];
  const cases: { name: string; layout: ServerLayout; extra: string[] }[] = [
    { name: "default", layout: defaultLayout(), extra: [] },
    { name: "outside", layout: SPLIT_OUTSIDE, extra: [] },
    {
      name: "inside",
      layout: SPLIT_INSIDE,
      extra: ["/ibdata/***", "/redo/***", "/undo/***", "/aria/***", "/logs/***"],
    },
    {
      name: "spaces and wildcards in a name",
      layout: defaultLayout({ innodbUndoDirectory: `${DD}/my undo*[1]?` }),
      extra: ["/my undo\\*\\[1\\]\\?/***"],
    },
  ];
  for (const c of cases) {
    const lines = datadirDaemonExcludes(c.layout).split("\n");
    assertEquals(lines.pop(), "", `${c.name}: one pattern a line, newline-terminated`);
    assertEquals(lines.sort(), [...base, ...c.extra, SNAPSHOT_RULE].sort(), c.name);
  }
});

Deno.test("layout files: strayEngineFiles finds engine files in the datadir that the layout keeps elsewhere", async () => {
  const dd = await Deno.makeTempDir({ prefix: "strays-unit-" });
  try {
    for (
      const f of ["ibdata1", "ib_logfile0", "undo001", "aria_log_control", "aria_log.00000001"]
    ) {
      await Deno.writeFile(`${dd}/${f}`, new Uint8Array(1));
    }
    await Deno.mkdir(`${dd}/undo_db`); // a schema directory, not a file
    await Deno.writeFile(`${dd}/grastate.dat`, new Uint8Array(1));
    const at = (over: Partial<ServerLayout>): ServerLayout => ({
      datadir: dd,
      innodbDataHomeDir: dd,
      innodbLogGroupHomeDir: dd,
      innodbUndoDirectory: dd,
      ariaLogDirPath: dd,
      ...over,
    });
    const cases: { over: Partial<ServerLayout>; strays: [string, string][] }[] = [
      { over: {}, strays: [] },
      { over: { innodbDataHomeDir: "/srv/ibdata" }, strays: [["ibdata1", "innodb_data_home_dir"]] },
      {
        over: { innodbUndoDirectory: `${dd}/undo`, ariaLogDirPath: "/srv/aria" },
        strays: [
          ["aria_log.00000001", "aria_log_dir_path"],
          ["aria_log_control", "aria_log_dir_path"],
          ["undo001", "innodb_undo_directory"],
        ],
      },
      {
        over: { innodbLogGroupHomeDir: "/srv/redo" },
        strays: [["ib_logfile0", "innodb_log_group_home_dir"]],
      },
    ];
    for (const c of cases) {
      const got = (await strayEngineFiles(at(c.over))).map((s) => [s.file, s.set.option]);
      assertEquals(got, c.strays, JSON.stringify(c.over));
    }
  } finally {
    await Deno.remove(dd, { recursive: true });
  }
});

function names(job: { sources: string[] }): string[] {
  return job.sources.map((s) => s.slice(DD.length + 1));
}

Deno.test("passes: schemaJobs balances directories by size (largest first into lightest job)", () => {
  const dirs: SchemaDir[] = [
    { name: "d", bytes: 10 },
    { name: "b", bytes: 50 },
    { name: "a", bytes: 100 },
    { name: "c", bytes: 50 },
  ];
  const jobs = schemaJobs(defaultLayout(), dirs, 2);
  assertEquals(jobs.map(names), [["a", "d"], ["b", "c"]]);
  for (const j of jobs) {
    assertEquals(j.options, ["--recursive", "--delete", SNAPSHOT_EXCLUDE]);
    assertEquals(j.module, "rsync_tunnel_sst");
  }
  assertEquals(jobs[0].sources, [`${DD}/a`, `${DD}/d`]);
});

Deno.test("passes: schemaJobs makes at most N jobs and places each directory exactly once", () => {
  let x = 7;
  const rand = () => (x = (x * 1103515245 + 12345) % 2147483648);
  const dirs: SchemaDir[] = Array.from({ length: 23 }, (_, i) => ({
    name: `db${i}`,
    bytes: rand() % 100000,
  }));
  for (const streams of [1, 3, 4, 8, 23, 50]) {
    const jobs = schemaJobs(defaultLayout(), dirs, streams);
    assertEquals(jobs.length, Math.min(streams, dirs.length));
    const placed = jobs.flatMap(names).sort();
    assertEquals(placed, dirs.map((d) => d.name).sort());
    // greedy bound: bins differ by at most the largest single directory
    const size = new Map(dirs.map((d) => [d.name, d.bytes]));
    const totals = jobs.map((j) => names(j).reduce((s, n) => s + size.get(n)!, 0));
    const largest = Math.max(...dirs.map((d) => d.bytes));
    assert(Math.max(...totals) - Math.min(...totals) <= largest, `unbalanced: ${totals}`);
  }
});

Deno.test("passes: schemaJobs counts what each stream already carries (engine files), so the streams end level", () => {
  const dirs: SchemaDir[] = [
    { name: "a", bytes: 256 },
    { name: "b", bytes: 256 },
    { name: "c", bytes: 256 },
    { name: "d", bytes: 128 },
  ];
  // Without the preload the bins would be 512 and 384 on top of the engine files.
  const loads = streamLoads([96, 12, 30, 4], 2);
  assertEquals(loads, [96, 46]);
  const jobs = schemaJobs(defaultLayout(), dirs, 2, loads);
  assertEquals(jobs.map(names), [["b", "d"], ["a", "c"]]);
  const totals = [96 + 256 + 128, 46 + 256 + 256];
  assert(Math.max(...totals) - Math.min(...totals) <= 128, `unbalanced: ${totals}`);
});

Deno.test("passes: streamLoads places each size, largest first, on the lightest stream", () => {
  assertEquals(streamLoads([], 3), [0, 0, 0]);
  assertEquals(streamLoads([5, 1, 3, 3], 2), [6, 6]);
  assertEquals(streamLoads([7], 0), [7]);
});

Deno.test("passes: schemaJobs with no directories is no job; streams <= 0 means one job", () => {
  assertEquals(schemaJobs(defaultLayout(), [], 4), []);
  const jobs = schemaJobs(defaultLayout(), [{ name: "a", bytes: 1 }, { name: "b", bytes: 2 }], 0);
  assertEquals(jobs.map(names), [["a", "b"]]);
});

Deno.test("passes: binlogJob and completionJob", () => {
  assertEquals(binlogJob([]), null);
  assertEquals(binlogJob([`${DD}/mysql-bin.000007`]), {
    label: "binary logs",
    selection: { kind: "files" },
    options: [],
    sources: [`${DD}/mysql-bin.000007`],
    module: "rsync_tunnel_sst-binlogs",
  });
  assertEquals(completionJob("/tmp/p/sst_complete"), {
    label: "completion record",
    selection: { kind: "files" },
    options: ["--checksum", "--no-inplace"],
    sources: ["/tmp/p/sst_complete"],
    module: "rsync_tunnel_sst-complete",
  });
});

Deno.test("passes: shareSchema splits one large schema into shares of similar size; the tree leaves out (and does not delete) the files the others send", () => {
  const files = [
    { name: "t1.ibd", bytes: 400 },
    { name: "t2.ibd", bytes: 300 },
    { name: "t3.ibd", bytes: 300 },
    { name: "t1.frm", bytes: 1 },
    { name: "odd name.ibd", bytes: 200 },
  ];
  const [tree, ...others] = shareSchema(defaultLayout(), "shop", files, 2);
  // largest first to the lighter share: the tree starts with the odd name's 200 B, so t1.ibd
  // (400) goes to share 2, t2.ibd to the tree (500), t3.ibd to share 2 (700), t1.frm the tree
  assertEquals(tree.selection, { kind: "trees", leave: ["shop/t1.ibd", "shop/t3.ibd"] });
  assertEquals(tree.sources, [`${DD}/shop`]);
  assertEquals(tree.options, [
    "--recursive",
    "--delete",
    SNAPSHOT_EXCLUDE,
    "--exclude=/shop/t1.ibd",
    "--exclude=/shop/t3.ibd",
  ]);
  assertEquals(others.length, 1);
  assertEquals(others[0].selection, { kind: "files" });
  assertEquals(others[0].sources, [`${DD}/shop/t1.ibd`, `${DD}/shop/t3.ibd`]);
  assertEquals([others[0].module, others[0].path], ["rsync_tunnel_sst", "shop/"]);
  assertEquals(others[0].options, []);
});

Deno.test("passes: shareSchema keeps the directory whole when its name is no plain file name, with one share, when every file has an odd name, or when one table holds over 3/4 of it", () => {
  const files = [{ name: "a.ibd", bytes: 10 }, { name: "b.ibd", bytes: 10 }];
  for (
    const [name, fs, shares] of [
      ["my shop", files, 2],
      ["shop", files, 1],
      ["shop", [{ name: "a b", bytes: 10 }, { name: "c*d", bytes: 10 }], 2],
      ["shop", [{ name: "huge.ibd", bytes: 80 }, { name: "a.ibd", bytes: 20 }], 2],
    ] as const
  ) {
    const jobs = shareSchema(defaultLayout(), name, fs, shares);
    assertEquals(jobs.length, 1, `${name} ${shares}`);
    assertEquals(jobs[0].selection, { kind: "trees", leave: [] });
    assertEquals(jobs[0].sources, [`${DD}/${name}`]);
  }
});

Deno.test("selection: a tree with files left out neither lists nor counts them (real files), and counts the rest below", async () => {
  const dd = await Deno.makeTempDir({ prefix: "passes-unit-" });
  try {
    await Deno.mkdir(`${dd}/shop/sub`, { recursive: true });
    await Deno.writeFile(`${dd}/shop/a.ibd`, new Uint8Array(100));
    await Deno.writeFile(`${dd}/shop/b.ibd`, new Uint8Array(30));
    await Deno.writeFile(`${dd}/shop/sub/b.ibd`, new Uint8Array(7));
    const walk = new TreeWalk();
    const leave = { kind: "trees", leave: ["shop/b.ibd"] } as const;
    const listed = await walk.files(leave, [`${dd}/shop`]);
    assertEquals(listed.map((f) => f.rel).sort(), ["shop/a.ibd", "shop/sub/b.ibd"]);
    assertEquals(await walk.bytes(leave, [`${dd}/shop`]), 107);
    assertEquals(await walk.bytes({ kind: "trees" }, [`${dd}/shop`]), 137);
    assertEquals(await walk.bytes({ kind: "files" }, [`${dd}/shop/b.ibd`]), 30);
  } finally {
    await Deno.remove(dd, { recursive: true });
  }
});

Deno.test("passes: listSchemaDirs lists schema dirs with sizes (a linked one by its target), skipping special and excluded dirs", async () => {
  const dd = await Deno.makeTempDir({ prefix: "passes-unit-" });
  try {
    await Deno.mkdir(`${dd}/shop/sub`, { recursive: true });
    await Deno.writeFile(`${dd}/shop/t.ibd`, new Uint8Array(100));
    await Deno.writeFile(`${dd}/shop/sub/x`, new Uint8Array(5));
    await Deno.mkdir(`${dd}/mysql`);
    await Deno.mkdir(`${dd}/lost+found`);
    await Deno.mkdir(`${dd}/undo`);
    await Deno.mkdir(`${dd}/wsrep_sst_binlogs.tmp`);
    await Deno.writeFile(`${dd}/ibdata1`, new Uint8Array(10));
    const layout = {
      datadir: dd,
      innodbDataHomeDir: dd,
      innodbLogGroupHomeDir: dd,
      innodbUndoDirectory: `${dd}/undo`,
      ariaLogDirPath: dd,
    };
    await Deno.symlink(`${dd}/shop`, `${dd}/linked`);
    assertEquals(await listSchemaDirs(layout, new TreeWalk()), [
      { name: "linked", bytes: 105 },
      { name: "mysql", bytes: 0 },
      { name: "shop", bytes: 105 },
    ]);
  } finally {
    await Deno.remove(dd, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// resolveDir

Deno.test("settings: resolveDir for relative, ./, absolute and empty paths", () => {
  assertEquals(resolveDir("/var/lib/mysql/", "undo"), "/var/lib/mysql/undo");
  assertEquals(resolveDir("/var/lib/mysql", "./undo/"), "/var/lib/mysql/undo");
  assertEquals(resolveDir("/var/lib/mysql", "/srv/undo//"), "/srv/undo");
  assertEquals(resolveDir("/var/lib/mysql/", undefined), "/var/lib/mysql");
  assertEquals(resolveDir("/var/lib/mysql//", ""), "/var/lib/mysql");
  assertEquals(resolveDir("/var/lib/mysql", "."), "/var/lib/mysql");
  assertEquals(resolveDir("/var/lib/mysql", "./"), "/var/lib/mysql");
  assertEquals(resolveDir("/", "/"), "/");
  assertEquals(resolveDir("/", "/var/lib/mysql/"), "/var/lib/mysql");
});

// ---------------------------------------------------------------------------------------------
// settingsFrom with a real option file

/** Writes `cnf` to a temp dir and resolves settings for a joiner whose datadir is <tmp>/data/. */
async function withSettings(
  cnf: string,
  extraArgs: string[],
  fn: (s: Settings, dd: string) => void | Promise<void>,
  cpuCount = 3,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "settings-unit-" });
  try {
    const file = `${dir}/my.cnf`;
    await Deno.writeTextFile(file, cnf.replaceAll("${D}", dir));
    const args = parseSstArgs([
      "--role",
      "joiner",
      "--address",
      "127.0.0.1",
      "--datadir",
      `${dir}/data/`,
      "--defaults-file",
      file,
      ...extraArgs.map((a) => a.replaceAll("${D}", dir)),
    ]);
    const opts = await OptionLookup.load({ defaultsFile: file, env: {} });
    await fn(settingsFrom(args, opts, cpuCount), `${dir}/data`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function settingsFail(cnf: string, re: RegExp): Promise<void> {
  await assertRejects(() => withSettings(cnf, [], () => {}), ConfigError, re);
}

Deno.test("settings: tca/tcert/tkey in [sst] win over ssl-* in [mysqld]", async () => {
  await withSettings(
    "[mysqld]\nssl-ca=/m/ca.pem\nssl_cert=/m/cert.pem\nssl-key=/m/key.pem\n" +
      "[sst]\ntca=/s/ca.pem\ntcert=/s/cert.pem\ntkey=/s/key.pem\n",
    [],
    (s) => {
      const { ca, caPath, cert, key, names } = s.tls;
      assertEquals({ ca, caPath, cert, key }, {
        ca: "/s/ca.pem",
        caPath: undefined,
        cert: "/s/cert.pem",
        key: "/s/key.pem",
      });
      assertEquals(names.cert.setting, "[sst] tcert");
    },
  );
});

Deno.test("settings: ssl-* from [mysqld] are used when no t* key is set", async () => {
  await withSettings(
    "[mysqld]\nssl-ca=/m/ca.pem\nssl-cert=/m/cert.pem\nssl-key=/m/key.pem\nssl-capath=/m/certs\n",
    [],
    (s) => {
      const { ca, caPath, cert, key, names } = s.tls;
      assertEquals({ ca, caPath, cert, key }, {
        ca: "/m/ca.pem",
        caPath: "/m/certs",
        cert: "/m/cert.pem",
        key: "/m/key.pem",
      });
      assertEquals(names.cert.setting, "[mysqld] ssl-cert");
    },
  );
});

Deno.test("settings: ssl-* in [sst] are used when the server groups have none", async () => {
  await withSettings("[sst]\nssl-cert=/s/cert.pem\nssl-key=/s/key.pem\n", [], (s) => {
    assertEquals([s.tls.cert, s.tls.key, s.tls.ca], ["/s/cert.pem", "/s/key.pem", undefined]);
    assertEquals(s.tls.names.cert.setting, "[sst] ssl-cert");
  });
});

Deno.test("settings: defaults with an empty option file", async () => {
  await withSettings("[mysqld]\n", [], (s, dd) => {
    assertEquals(s.timeouts, DEFAULT_TIMEOUTS);
    assertEquals(s.maxBinlogs, 1);
    assertEquals(s.backupThreads, 3);
    assertEquals(s.sockopt, []);
    assertEquals(s.layout, {
      datadir: dd,
      innodbDataHomeDir: dd,
      innodbLogGroupHomeDir: dd,
      innodbUndoDirectory: dd,
      ariaLogDirPath: dd,
      systemTablespace: {
        value: "ibdata1:12M:autoextend",
        setting: "default",
        files: [`${dd}/ibdata1`],
      },
      serverTmpdir: undefined,
    });
  });
});

Deno.test("settings: sst-max-binlogs=-1 (all) is accepted", async () => {
  await withSettings("[sst]\nsst-max-binlogs=-1\n", [], (s) => assertEquals(s.maxBinlogs, -1));
  await withSettings("[mysqld]\nsst_max_binlogs=0\n", [], (s) => assertEquals(s.maxBinlogs, 0));
});

Deno.test("settings: backup-threads=0 is a ConfigError naming the key", async () => {
  await settingsFail("[sst]\nbackup-threads=0\n", /backup-threads=0/);
  await settingsFail("[sst]\nbackup-threads=two\n", /backup-threads=two/);
  await withSettings("[sst]\nbackup-threads=4\n", [], (s) => assertEquals(s.backupThreads, 4));
});

Deno.test("settings: tunnel-idle-timeout=5 is read; other timeouts keep their defaults", async () => {
  await withSettings("[sst]\ntunnel-idle-timeout=5\n", [], (s) => {
    assertEquals(s.timeouts, { ...DEFAULT_TIMEOUTS, idle: 5 });
  });
});

Deno.test("settings: timeouts below their minimum are ConfigErrors naming the key", async () => {
  await settingsFail("[sst]\ntunnel-idle-timeout=0\n", /tunnel-idle-timeout=0/);
  await settingsFail("[sst]\ntunnel-connect-timeout=-3\n", /tunnel-connect-timeout/);
  await withSettings("[sst]\ntunnel-deadline=0\n", [], (s) => assertEquals(s.timeouts.deadline, 0));
});

Deno.test("settings: sockopt from [sst] is parsed into tokens", async () => {
  await withSettings("[sst]\nsockopt=,cipher=HIGH\n", [], (s) => {
    assertEquals(s.sockopt, [{ name: "cipher", value: "HIGH" }]);
    assertEquals(s.sockoptRaw, ",cipher=HIGH");
  });
  await settingsFail('[sst]\nsockopt="cipher=HIGH exec=sh"\n', /sockopt/);
});

Deno.test("settings: engine directories from [mysqld] are resolved against the datadir", async () => {
  await withSettings(
    "[mysqld]\ninnodb_undo_directory=undo\ninnodb-log-group-home-dir=/srv/redo/\n" +
      "aria_log_dir_path=./aria\n",
    [],
    (s, dd) => {
      assertEquals(s.layout.innodbUndoDirectory, `${dd}/undo`);
      assertEquals(s.layout.innodbLogGroupHomeDir, "/srv/redo");
      assertEquals(s.layout.ariaLogDirPath, `${dd}/aria`);
      assertEquals(s.layout.innodbDataHomeDir, dd);
    },
  );
});

Deno.test("settings: directories from the arguments win over the option file", async () => {
  await withSettings(
    "[mysqld]\ninnodb_undo_directory=/conf/undo\n",
    ["--mysqld-args", "--innodb-undo-directory=/arg/undo"],
    (s) => assertEquals(s.layout.innodbUndoDirectory, "/arg/undo"),
  );
});

Deno.test("settings: bare log_bin in [mysqld] means <datadir>/mysql-bin", async () => {
  await withSettings("[mysqld]\nlog_bin\n", [], (s, dd) => {
    assertEquals(s.layout.binlogBase, `${dd}/mysql-bin`);
    assertEquals(s.layout.binlogIndex, `${dd}/mysql-bin.index`);
  });
});

Deno.test("settings: bare log_bin with log_basename=node1 means <datadir>/node1-bin", async () => {
  await withSettings("[mysqld]\nlog_basename=node1\nlog-bin\n", [], (s, dd) => {
    assertEquals(s.layout.binlogBase, `${dd}/node1-bin`);
    assertEquals(s.layout.binlogIndex, `${dd}/node1-bin.index`);
  });
  // bare --log-bin from mysqld-args, basename from the option file
  await withSettings("[mysqld]\nlog_basename=node2\n", ["--mysqld-args", "--log-bin"], (s, dd) => {
    assertEquals(s.layout.binlogBase, `${dd}/node2-bin`);
  });
});

Deno.test("settings: relative and absolute log_bin", async () => {
  await withSettings("[mysqld]\nlog_bin=binlogs/node\n", [], (s, dd) => {
    assertEquals(s.layout.binlogBase, `${dd}/binlogs/node`);
    assertEquals(s.layout.binlogIndex, `${dd}/binlogs/node.index`);
  });
  await withSettings("[mysqld]\nlog_bin=${D}/binlog/mysql-bin\n", [], (s, dd) => {
    const root = dd.slice(0, -"/data".length);
    assertEquals(s.layout.binlogBase, `${root}/binlog/mysql-bin`);
    assertEquals(s.layout.binlogIndex, `${root}/binlog/mysql-bin.index`);
  });
});

Deno.test("settings: --binlog from mariadbd wins over log_bin in the option file", async () => {
  await withSettings("[mysqld]\nlog_bin=conf-bin\n", ["--binlog", "arg-bin"], (s, dd) => {
    assertEquals(s.layout.binlogBase, `${dd}/arg-bin`);
  });
});

Deno.test("settings: no binary log configured anywhere means no binlog paths", async () => {
  await withSettings("[mysqld]\nlog_basename=node1\n", [], (s) => {
    assertEquals(s.layout.binlogBase, undefined);
    assertEquals(s.layout.binlogIndex, undefined);
  });
});

Deno.test("settings: relative log_bin_index is resolved against the binlog dir (here the datadir), .index appended", async () => {
  await withSettings("[mysqld]\nlog_bin=mysql-bin\nlog_bin_index=idx/my\n", [], (s, dd) => {
    assertEquals(s.layout.binlogIndex, `${dd}/idx/my.index`);
  });
  await withSettings("[mysqld]\nlog_bin\n", ["--binlog-index", "node.index"], (s, dd) => {
    assertEquals(s.layout.binlogIndex, `${dd}/node.index`);
  });
  await withSettings("[mysqld]\nlog_bin\nlog_bin_index=/abs/i.index\n", [], (s) => {
    assertEquals(s.layout.binlogIndex, "/abs/i.index");
  });
});

Deno.test({
  name:
    "settings: relative log_bin_index with a binlog dir outside the datadir is under the datadir",
  fn: async () => {
    await withSettings(
      "[mysqld]\nlog_bin=${D}/binlog/mysql-bin\nlog_bin_index=mysql-bin.index\n",
      [],
      (s, dd) => assertEquals(s.layout.binlogIndex, `${dd}/mysql-bin.index`),
    );
  },
});

Deno.test({
  name: "settings: log_bin_index with another extension keeps it",
  fn: async () => {
    await withSettings(
      "[mysqld]\nlog_bin=mysql-bin\nlog_bin_index=mysql-bin.idx\n",
      [],
      (s, dd) => assertEquals(s.layout.binlogIndex, `${dd}/mysql-bin.idx`),
    );
  },
});

/** A tunnel for building rsync's argv only: spawning through it fails. */
function argvOnlyTunnel(): Tunnel {
  return {
    adapter: {
      spawn: () => {
        throw new Error("unused");
      },
    },
    rsync: "rsync",
    rsh: { rsh: "helper", env: {} },
    passwordFile: "/p/pw",
    idleTimeoutSec: 1,
    statusDir: "/p/s",
    peer: "j",
    wire: NO_WIRE_OPTIONS,
    streams: 1,
    stop: { signal: new AbortController().signal, check: () => {} },
    recordGroup: () => {},
    relayed: new Set(),
  };
}

Deno.test("passes: the completion record is sent with --no-inplace after the common --inplace, so it lands by rename", async () => {
  const { completionJob } = await import("../../src/transfer/passes.ts");
  const { rsyncArgs } = await import("../../src/transfer/rsync_runner.ts");
  const job = completionJob("/p/sst_complete");
  const args = rsyncArgs(job, argvOnlyTunnel(), false);
  const inplace = args.indexOf("--inplace");
  const noInplace = args.indexOf("--no-inplace");
  if (!(inplace >= 0 && noInplace > inplace)) throw new Error(`argv order: ${args.join(" ")}`);
});

Deno.test("excludingFrom: the exclude list comes before the job's own filters (first match wins)", () => {
  const layout = defaultLayout();
  for (const job of engineFileJobs(layout)) {
    const out = excludingFrom(job, "/tmp/p/unchanged.0");
    assertEquals(out.options[0], job.options[0]);
    assertEquals(out.options[1], "--exclude-from=/tmp/p/unchanged.0");
    const firstFilter = out.options.findIndex((o) => /^--(include|exclude)=/.test(o));
    assert(firstFilter > 1, "the list precedes every include/exclude rule");
    assertEquals(out.options.slice(2), job.options.slice(1));
  }
  assertEquals(excludingFrom(binlogJob(["/b/mysql-bin.000001"])!, "/l").options, [
    "--exclude-from=/l",
  ]);
});

Deno.test("deltaBlockSize: 1 KiB blocks, doubled while a file would have over 2^20 of them, at most a page", () => {
  const MiB = 1024 * 1024;
  assertEquals(deltaBlockSize(0), FINE_BLOCK_SIZE);
  assertEquals(deltaBlockSize(76 * MiB), 1024);
  assertEquals(deltaBlockSize(1024 * MiB), 1024);
  assertEquals(deltaBlockSize(1024 * MiB + 1), 2048);
  assertEquals(deltaBlockSize(10 * 1024 * MiB), 16384);
  assertEquals(deltaBlockSize(500 * 1024 * MiB), DELTA_BLOCK_SIZE);
});

Deno.test("withDeltaBlock: the system tablespace and undo tablespaces get fine delta blocks, the redo log, Aria logs and schema directories keep page-sized ones in rsync's argv", async () => {
  const { rsyncArgs } = await import("../../src/transfer/rsync_runner.ts");
  const tunnel = argvOnlyTunnel();
  const layout = defaultLayout();
  const blockOf = (j: RsyncJob) =>
    rsyncArgs(withDeltaBlock(j, 76 * 1024 * 1024), tunnel, true).filter((a) =>
      a.startsWith("--block-size")
    );
  const engine = engineFileJobs(layout).map((j) => [j.label, blockOf(j)]);
  assertEquals(engine, [
    ["InnoDB system tablespace", ["--block-size=1024"]],
    ["InnoDB redo log", ["--block-size=16384"]],
    ["InnoDB undo tablespaces", ["--block-size=1024"]],
    ["Aria logs", ["--block-size=16384"]],
  ]);
  const schemas = schemaJobs(layout, [{ name: "shop", bytes: 1 }], 1);
  assertEquals(blockOf(schemas[0]), ["--block-size=16384"]);
  assertEquals(
    rsyncArgs(engineFileJobs(layout)[0], tunnel, false).filter((a) => a.startsWith("--block-size")),
    [],
  );
});
