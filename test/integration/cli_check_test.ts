/** The human-facing `check` command, run as an operator would, on real files. */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { LAUNCHER } from "../support/sst_driver.ts";
import { makeFixture } from "../support/fixture.ts";

async function check(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(LAUNCHER, { args: ["check", ...args], stderr: "piped" })
    .output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("check reports a good node's certificate, tools and layout and exits 0", async () => {
  const f = await makeFixture({ separateDirs: true, binlog: true });
  try {
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
      `[mysqld]\ninnodb_data_home_dir=\n${spread}\n`,
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
