/**
 * Command-line conventions and `certs`, run as an operator would: no arguments is an error with
 * the usage on stderr; `--help` works for every command; `--version` names the tools found;
 * `certs` writes 0600 keys and certificates with SAN DNS, IPv4 before IPv6, both TLS purposes,
 * that `openssl verify` accepts for both roles (CA-issued, and self-signed via `certs bundle`).
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { LAUNCHER } from "../../scripts/lib/sst_driver.ts";
import { VERSION } from "../../src/core/version.ts";

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const o = await new Deno.Command(LAUNCHER, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: o.code, stdout: d.decode(o.stdout), stderr: d.decode(o.stderr) };
}

async function openssl(args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout) + d.decode(o.stderr) };
}

Deno.test("no arguments prints the usage on stderr, nothing on stdout, and exits 22", async () => {
  const r = await cli([]);
  assertEquals(r.code, 22);
  assertEquals(r.stdout, "");
  assertMatch(r.stderr, /Usage: wsrep_sst_rsync_tunnel/);
});

Deno.test("--help works for every command and exits 0", async () => {
  for (
    const args of [
      ["--help"],
      ["check", "--help"],
      ["certs", "--help"],
      ["certs", "ca", "--help"],
      ["certs", "node", "--help"],
      ["certs", "bundle", "--help"],
    ]
  ) {
    const r = await cli(args);
    assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assertMatch(r.stdout, /Usage: wsrep_sst_rsync_tunnel/, args.join(" "));
  }
});

Deno.test("--version prints our version, then socat, rsync and openssl as found", async () => {
  const r = await cli(["--version"]);
  assertEquals(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assertEquals(lines[0], `wsrep_sst_rsync_tunnel ${VERSION}`);
  assertMatch(lines[1], /^socat \d+\.\d+\S* \(\/\S+\/socat, with OpenSSL\)$/);
  assertMatch(lines[2], /^rsync \d+\.\d+\S* \(\/\S+\/rsync\)$/);
  assertMatch(lines[3], /^openssl \d+\.\d+\S* \(\/\S+\/openssl\)$/);
});

Deno.test("bad check flags are refused with exit 22 and a pointer to --help", async () => {
  for (
    const args of [["check", "--peer", "x", "--listen"], ["check", "--once"], [
      "check",
      "--peer",
      "x",
      "--role",
      "donor",
    ]]
  ) {
    const r = await cli(args);
    assertEquals(r.code, 22, args.join(" "));
    assertMatch(r.stderr, /check --help/);
  }
});

Deno.test("certs makes 0600 keys and certificates (SAN DNS, IPv4 before IPv6, serverAuth+clientAuth) that verify for both roles", async () => {
  const dir = await Deno.makeTempDir({ prefix: "certs-" });
  try {
    assertEquals((await cli(["certs", "ca", "--out", `${dir}/ca`])).code, 0);
    const n = await cli([
      "certs",
      "node",
      "db1.example.com",
      "--ip",
      "fd00::5",
      "--ip",
      "10.0.0.5",
      "--dns",
      "db1",
      "--ca",
      `${dir}/ca`,
      "--out",
      `${dir}/n`,
    ]);
    assertEquals(n.code, 0, n.stderr);
    assertEquals(n.stdout.trim().split("\n").slice(1), [
      "[sst]",
      `tca   = ${dir}/n/ca.crt`,
      `tcert = ${dir}/n/db1.example.com.crt`,
      `tkey  = ${dir}/n/db1.example.com.key`,
    ]);
    for (const key of [`${dir}/ca/ca.key`, `${dir}/n/db1.example.com.key`]) {
      assertEquals((await Deno.stat(key)).mode! & 0o777, 0o600, key);
    }
    const text = (await openssl([
      "x509",
      "-in",
      `${dir}/n/db1.example.com.crt`,
      "-noout",
      "-ext",
      "subjectAltName,extendedKeyUsage",
    ])).out;
    assertMatch(
      text,
      /DNS:db1\.example\.com, DNS:db1, IP Address:10\.0\.0\.5, IP Address:FD00:0:0:0:0:0:0:5/i,
    );
    assertMatch(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    for (const purpose of ["sslserver", "sslclient"]) {
      const v = await openssl([
        "verify",
        "-purpose",
        purpose,
        "-CAfile",
        `${dir}/n/ca.crt`,
        `${dir}/n/db1.example.com.crt`,
      ]);
      assertEquals(v.code, 0, v.out);
    }
    // Refuses to overwrite.
    const again = await cli([
      "certs",
      "node",
      "db1.example.com",
      "--ca",
      `${dir}/ca`,
      "--out",
      `${dir}/n`,
    ]);
    assertEquals(again.code, 22);
    assertMatch(again.stderr, /exists already/);

    // Self-signed scenario: each node's certificate in one bundle verifies every node.
    for (const h of ["a", "b"]) {
      assertEquals((await cli(["certs", "node", h, "--self-signed", "--out", `${dir}/s`])).code, 0);
    }
    const b = await cli([
      "certs",
      "bundle",
      "--out",
      `${dir}/bundle.pem`,
      `${dir}/s/a.crt`,
      `${dir}/s/b.crt`,
    ]);
    assertEquals(b.code, 0, b.stderr);
    assert(b.stdout.includes(`tca = ${dir}/bundle.pem`), b.stdout);
    for (const h of ["a", "b"]) {
      for (const purpose of ["sslserver", "sslclient"]) {
        const v = await openssl([
          "verify",
          "-purpose",
          purpose,
          "-CAfile",
          `${dir}/bundle.pem`,
          `${dir}/s/${h}.crt`,
        ]);
        assertEquals(v.code, 0, `${h} ${purpose}: ${v.out}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
