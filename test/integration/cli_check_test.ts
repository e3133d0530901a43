/** The human-facing `check` command, run as an operator would, on real files. */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { LAUNCHER } from "../support/sst_driver.ts";
import { makeFixture } from "../support/fixture.ts";

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

Deno.test("--help describes the program and exits 0; an unknown command exits non-zero", async () => {
  const help = await new Deno.Command(LAUNCHER, { args: ["--help"], stdout: "piped" }).output();
  assertEquals(help.code, 0);
  assertMatch(new TextDecoder().decode(help.stdout), /wsrep_sst_method=rsync_tunnel/);
  const bad = await new Deno.Command(LAUNCHER, { args: ["frobnicate"], stderr: "piped" }).output();
  assert(bad.code !== 0);
});
