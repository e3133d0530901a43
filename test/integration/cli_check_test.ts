/** The human-facing `check` command, run as an operator would, on real files. */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { LAUNCHER } from "../../scripts/lib/sst_driver.ts";
import { type Fixture, makeFixture } from "../../scripts/lib/fixture.ts";

/**
 * Run as root, check judges paths as the server's user (`[mysqld] user`, else `mysql`): the
 * fixture's files are root's, so the fixture's server runs as root.
 */
async function asRoot(cnf: string): Promise<void> {
  const text = await Deno.readTextFile(cnf);
  await Deno.writeTextFile(cnf, text.replace("[mysqld]\n", "[mysqld]\nuser=root\n"));
}

async function check(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(LAUNCHER, { args: ["check", ...args], stderr: "piped" })
    .output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("check reports a good node's certificate, tools and layout and exits 0", async () => {
  const f = await makeFixture({ separateDirs: true, binlog: true });
  try {
    await asRoot(f.joiner.defaultsFile);
    const r = await check([
      "--defaults-file",
      f.joiner.defaultsFile,
      "--datadir",
      f.joiner.datadir,
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, /socat 1\.\d+\.\d+.* with OpenSSL/);
    assertMatch(
      r.stderr,
      /TLS: certificate \S*joiner\.crt from \S*joiner\.cnf:\d+ \[sst\] tcert \(CN=localhost/,
    );
    assertMatch(r.stderr, /undo .*\/joiner\/undo/);
    assertMatch(r.stderr, /configuration OK/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("check names the [sst] key and file when the key does not match the certificate", async () => {
  const f = await makeFixture();
  try {
    const cnf = (await Deno.readTextFile(f.joiner.defaultsFile)).replace(
      `tkey=${f.joiner.leaf.key}`,
      `tkey=${f.donor.leaf.key}`,
    );
    await Deno.writeTextFile(f.joiner.defaultsFile, cnf);
    await asRoot(f.joiner.defaultsFile);
    const r = await check(["--defaults-file", f.joiner.defaultsFile]);
    assertEquals(r.code, 22, r.stderr);
    const errors = r.stderr.split("\n").filter((l) => l.includes("[ERROR]"));
    assertEquals(errors.length, 1, r.stderr);
    assert(errors[0].includes("tkey") && errors[0].includes(f.donor.leaf.key), errors[0]);
  } finally {
    await f.cleanup();
  }
});

Deno.test("check refuses a joiner whose system tablespace spans two directories (exit 22), accepts it for a donor", async () => {
  const f = await makeFixture();
  try {
    const spread = `innodb_data_file_path=${f.root}/s1/a:12M;${f.root}/s2/b:12M:autoextend`;
    await Deno.writeTextFile(
      f.joiner.defaultsFile,
      // user=root: the fixture's files are root's; check reads paths as the server's user.
      `[mysqld]\nuser=root\ninnodb_data_home_dir=\n${spread}\n`,
      { append: true },
    );
    const joiner = await check(["--defaults-file", f.joiner.defaultsFile]);
    assertEquals(joiner.code, 22, joiner.stderr);
    assertMatch(joiner.stderr, /\[ERROR\] innodb_data_file_path=.*into one directory/);
    const donor = await check(["--defaults-file", f.joiner.defaultsFile, "--role", "donor"]);
    assertEquals(donor.code, 0, donor.stderr);
    assertMatch(donor.stderr, /system tablespace \S+\/s1\/a;\S+\/s2\/b/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("--help describes the program and exits 0; an unknown command exits non-zero", async () => {
  const help = await new Deno.Command(LAUNCHER, { args: ["--help"], stdout: "piped" }).output();
  assertEquals(help.code, 0);
  assertMatch(new TextDecoder().decode(help.stdout), /wsrep_sst_method=rsync_tunnel/);
  const bad = await new Deno.Command(LAUNCHER, { args: ["frobnicate"], stderr: "piped" }).output();
  assert(bad.code !== 0);
});

/** Edits the joiner's option file of a fresh fixture (server user root), runs `check`. */
async function checkEdited(
  edit: (cnf: string, f: Fixture) => string | Promise<string>,
  args: string[] = [],
): Promise<{ code: number; stderr: string; errors: string[]; warnings: string[] }> {
  const f = await makeFixture();
  try {
    await asRoot(f.joiner.defaultsFile);
    const cnf = await Deno.readTextFile(f.joiner.defaultsFile);
    await Deno.writeTextFile(f.joiner.defaultsFile, await edit(cnf, f));
    const r = await check(["--defaults-file", f.joiner.defaultsFile, ...args]);
    const lines = r.stderr.split("\n");
    return {
      ...r,
      errors: lines.filter((l) => l.includes("[ERROR]")),
      warnings: lines.filter((l) => l.includes("[WARNING]")),
    };
  } finally {
    await f.cleanup();
  }
}

Deno.test("check reads the datadir from [mysqld] datadir in an !includedir file and reports it missing (exit 2)", async () => {
  const r = await checkEdited(async (cnf, f) => {
    const dir = `${f.root}/conf.d`;
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/60-datadir.cnf`, `[mysqld]\ndatadir=${f.root}/nowhere\n`);
    return cnf.replace(/^datadir=.*\n/m, "") + `!includedir ${dir}\n`;
  });
  assertEquals(r.code, 2, r.stderr);
  assertEquals(r.errors.length, 1, r.stderr);
  assertMatch(
    r.errors[0],
    /\[mysqld\] datadir \(\S*60-datadir\.cnf:2 \[mysqld\]\): \S*\/nowhere does not exist/,
  );
});

Deno.test("check judges the datadir as the server's [mysqld] user when run as root (exit 13)", async () => {
  const r = await checkEdited((cnf) => cnf.replace("user=root", "user=nobody"));
  assertEquals(r.code, 13, r.stderr);
  assertMatch(r.stderr, /paths checked as nobody \(uid \d+; \[mysqld\] user/);
  assert(
    r.errors.some((e) =>
      /\[mysqld\] datadir .*nobody \(uid \d+, the server's user\) cannot write/.test(e)
    ),
    r.stderr,
  );
});

Deno.test("check reports a tmpdir the SST cannot write in (exit 13) and a missing one (exit 2)", async () => {
  const ro = await checkEdited(async (cnf, f) => {
    await Deno.chmod(f.root, 0o755);
    await Deno.mkdir(`${f.root}/locked`, { mode: 0o755 });
    return cnf.replace(/^tmpdir=.*$/m, `tmpdir=${f.root}/locked`).replace(
      "user=root",
      "user=nobody",
    );
  });
  assert(
    ro.errors.some((e) =>
      /tmpdir \(.*\[sst\]\): nobody .* cannot write .*\/locked: no write permission/.test(e)
    ),
    ro.stderr,
  );
  const missing = await checkEdited((cnf, f) =>
    cnf.replace(/^tmpdir=.*$/m, `tmpdir=${f.root}/gone`)
  );
  assertEquals(missing.code, 2, missing.stderr);
  assertEquals(missing.errors.length, 1, missing.stderr);
  assertMatch(missing.errors[0], /tmpdir .*\/gone does not exist/);
});

Deno.test("check reports the free space of the joiner's file systems", async () => {
  const r = await checkEdited((cnf) => cnf);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(
    r.stderr,
    /joiner: free space on \/\S* \(\S+\): [\d.]+ [KMGT]?i?B for \[mysqld\] datadir /,
  );
});

Deno.test("check names a misspelled [sst] key and the key it probably means", async () => {
  const r = await checkEdited((cnf) =>
    cnf.replace("tcert=", "tcrt=") + "compres=zstd\ntunnel-idle-timout=60\n"
  );
  assert(
    r.warnings.some((w) => /\[sst\] tcrt: unknown key.*did you mean tcert\?/.test(w)),
    r.stderr,
  );
  assert(r.warnings.some((w) => /\[sst\] compres: .*did you mean compress\?/.test(w)), r.stderr);
  assert(
    r.warnings.some((w) =>
      /\[sst\] tunnel-idle-timout: .*did you mean tunnel-idle-timeout\?/.test(w)
    ),
    r.stderr,
  );
  assertEquals(r.code, 22, r.stderr); // no certificate at all: the SST's own error
});

Deno.test("check refuses our keys in a server group where mariadbd would not start, unless loose-", async () => {
  const bad = await checkEdited((cnf) =>
    cnf.replace("[mysqld]\n", "[mysqld]\nssl-mode=VERIFY_CA\n")
  );
  assertEquals(bad.code, 22, bad.stderr);
  assertEquals(bad.errors.length, 1, bad.stderr);
  assertMatch(
    bad.errors[0],
    /\[mysqld\] ssl-mode: mariadbd does not know 'ssl-mode' .*move it to \[sst\] or write it as loose-ssl-mode/,
  );
  const sstOnly = await checkEdited((cnf) =>
    cnf.replace("[mysqld]\n", "[galera]\ntca=/x\n[mysqld]\n")
  );
  assertMatch(sstOnly.errors.join("\n"), /\[galera\] tca: mariadbd does not know 'tca'/);
  const loose = await checkEdited((cnf) =>
    cnf.replace("[mysqld]\n", "[mysqld]\nloose-ssl-mode=VERIFY_CA\nssl_ca=/nonexistent.pem\n")
  );
  assert(!/does not know/.test(loose.stderr), loose.stderr);
});

Deno.test("check compares our certificate with wsrep_sst_receive_address and names the SAN to add", async () => {
  const r = await checkEdited((cnf) =>
    cnf.replace(
      "[mysqld]\n",
      "[mysqld]\nwsrep_sst_receive_address=10.9.8.7:4567\nbind_address=node9.invalid\n",
    )
  );
  assertEquals(r.code, 129, r.stderr);
  assertEquals(r.errors.length, 1, r.stderr);
  assertMatch(
    r.errors[0],
    /wsrep_sst_receive_address '10\.9\.8\.7' .*subjectAltName IP:10\.9\.8\.7/,
  );
  assert(
    r.warnings.some((w) =>
      /bind_address 'node9\.invalid'.*subjectAltName DNS:node9\.invalid/.test(w)
    ),
    r.stderr,
  );
  assertMatch(r.stderr, /port 4567 \(wsrep_sst_receive_address/);
});

Deno.test("check names the process holding the joiner's port (exit 16)", async () => {
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (holder.addr as Deno.NetAddr).port;
    const r = await checkEdited((cnf) =>
      cnf.replace("[mysqld]\n", `[mysqld]\nwsrep_sst_receive_address=127.0.0.1:${port}\n`)
    );
    assertEquals(r.code, 16, r.stderr);
    assertEquals(r.errors.length, 1, r.stderr);
    assertMatch(r.errors[0], new RegExp(`port ${port} .* is taken by pid ${Deno.pid} \\(`));
  } finally {
    holder.close();
  }
});

Deno.test("check run as root finds a key file the server's user cannot read", async () => {
  const r = await checkEdited(async (cnf, f) => {
    await Deno.chmod(f.root, 0o755);
    await Deno.chmod(f.joiner.leaf.cert, 0o644);
    await Deno.chmod(f.ca.cert, 0o644);
    return cnf.replace("user=root", "user=nobody");
  });
  assertEquals(r.code, 13, r.stderr);
  assert(
    r.errors.some((e) =>
      /\[sst\] tkey: nobody .* cannot read \S*joiner\.key: no read permission .*-rw------- root/
        .test(e)
    ),
    r.stderr,
  );
  assert(!r.errors.some((e) => /tcert|tca\b/.test(e)), r.stderr);
});

Deno.test("check (donor) says whether each part clones, as the SST decides it, leaves no snapshot directory, and refuses clone=on where a part cannot clone (exit 22)", async () => {
  const f = await makeFixture();
  try {
    await asRoot(f.donor.defaultsFile);
    const snapshots = () =>
      [...Deno.readDirSync(f.donor.datadir)].filter((e) => e.name.startsWith("#sql-wsrep_sst"));
    const auto = await check(["--defaults-file", f.donor.defaultsFile, "--role", "donor"]);
    assertEquals(auto.code, 0, auto.stderr);
    // The host's /tmp is ext4 (or tmpfs): no clones there, said with the reason.
    assertMatch(auto.stderr, /\[INFO\] clones: .*locked copy \(/);
    assertEquals(snapshots().map((e) => e.name), []);
    const text = await Deno.readTextFile(f.donor.defaultsFile);
    await Deno.writeTextFile(f.donor.defaultsFile, text.replace("[sst]\n", "[sst]\nclone=on\n"));
    const on = await check(["--defaults-file", f.donor.defaultsFile, "--role", "donor"]);
    assertEquals(on.code, 22, on.stderr);
    assertMatch(on.stderr, /\[ERROR\] .*clone/);
    assertEquals(snapshots().map((e) => e.name), []);
  } finally {
    await f.cleanup();
  }
});
