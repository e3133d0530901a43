/**
 * The RPM as CI checks it: `scripts/rpm.ts` builds the bundle-mode package from the spec; its
 * file list (bundle, private runtime identical to the deno that built it, licences) and
 * requirements (socat, rsync, openssl; no deno) are right; unpacked with `rpm2cpio | cpio` into
 * a scratch root, its launcher runs `--version`, `certs` and `check` with no deno on PATH, and
 * its man page renders; rpmlint finds no error. The spec's compiled mode is exercised with a
 * stand-in ELF executable (no denort exists on the build machines): packaged unstripped, in
 * /usr/bin, without runtime, debug package or build-id links. A real SST through the unpacked
 * payload runs in installed_packages_test.ts. Needs `deno task build` first (the bundle) and
 * rpmbuild, rpm2cpio, cpio, rpmlint.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { VERSION } from "../../src/core/version.ts";
import { pathWithoutDeno } from "./no_deno_path.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

async function sh(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

async function buildRpm(top: string, extra: string[] = [], env?: Record<string, string>) {
  const r = await sh(Deno.execPath(), [
    "run",
    "-A",
    `${REPO}/scripts/rpm.ts`,
    "--out",
    top,
    ...extra,
  ], env);
  return { ...r, rpm: r.stdout.trim().split("\n").at(-1) ?? "" };
}

async function unpack(rpm: string, root: string): Promise<void> {
  await Deno.mkdir(root, { recursive: true });
  const rpm2cpio = new Deno.Command("rpm2cpio", { args: [rpm], stdout: "piped" }).spawn();
  const cpio = new Deno.Command("cpio", {
    args: ["-idm", "--quiet", "--no-absolute-filenames"],
    cwd: root,
    stdin: "piped",
    stderr: "piped",
  }).spawn();
  await rpm2cpio.stdout.pipeTo(cpio.stdin);
  assertEquals((await rpm2cpio.status).code, 0, "rpm2cpio");
  const c = await cpio.output();
  assertEquals(c.code, 0, new TextDecoder().decode(c.stderr));
}

async function sha256(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("deno task rpm builds an x86_64 RPM of the bundle and its private runtime whose unpacked launcher runs version, certs and check with no deno on PATH", async () => {
  const top = await Deno.makeTempDir({ prefix: "rpm-bundle-" });
  try {
    const b = await buildRpm(top);
    assertEquals(b.code, 0, b.stderr);
    assertMatch(
      b.rpm,
      new RegExp(
        `/wsrep_sst_rsync_tunnel-${VERSION.replaceAll(".", "\\.")}-1\\.(x86_64|aarch64)\\.rpm$`,
      ),
    );
    const files = (await sh("rpm", ["-qlp", b.rpm])).stdout.trim().split("\n");
    for (
      const f of [
        "/usr/bin/wsrep_sst_rsync_tunnel",
        "/usr/libexec/wsrep_sst_rsync_tunnel",
        "/usr/libexec/wsrep_sst_rsync_tunnel/wsrep_sst_rsync_tunnel.js",
        "/usr/libexec/wsrep_sst_rsync_tunnel/deno",
        "/usr/share/man/man1/wsrep_sst_rsync_tunnel.1.gz",
        "/usr/bin/wsrep_sst_rsync_tunnel_wan",
        "/usr/share/man/man1/wsrep_sst_rsync_tunnel_wan.1.gz",
      ]
    ) assert(files.includes(f), `${f} in ${files.join(", ")}`);
    for (const l of ["LICENSE", "copyright", "deno.LICENSE", "commander.LICENSE"]) {
      assert(
        files.some((f) => f.startsWith("/usr/share/licenses/") && f.endsWith(`/${l}`)),
        `%license ${l} in ${files.join(", ")}`,
      );
    }
    const license = (await sh("rpm", ["-qp", "--qf", "%{LICENSE}", b.rpm])).stdout;
    assertEquals(license, "MIT AND BSD-3-Clause AND Apache-2.0", "License tag");
    for (const d of ["README.md", "examples/sst.cnf", "selinux/wsrep_sst_rsync_tunnel.te"]) {
      assert(
        files.some((f) =>
          f.startsWith("/usr/share/doc/wsrep_sst_rsync_tunnel") && f.endsWith(`/${d}`)
        ),
        `%doc ${d} in ${files.join(", ")}`,
      );
    }
    assert(
      !files.some((f) => f.startsWith("/usr/lib/")),
      `nothing in /usr/lib: ${files.join(", ")}`,
    );
    const tags = (await sh("rpm", ["-qp", "--qf", "%{GROUP}|%{PACKAGER}|%{URL}", b.rpm])).stdout;
    assertEquals(
      tags,
      "Unspecified|wsrep_sst_rsync_tunnel developers <maintainers@users.noreply.r-seed-9614de1b.example>|(none)",
      "no Group: tag (rpm says Unspecified), the project's Packager, no invented URL",
    );
    assert(!files.some((f) => f.includes(".build-id")), "no build-id links");
    const requires = (await sh("rpm", ["-qp", "--requires", b.rpm])).stdout.split("\n").map((l) =>
      l.trim()
    );
    for (const r of ["socat", "rsync", "openssl"]) assert(requires.includes(r), `Requires: ${r}`);
    assert(!requires.some((r) => /deno/.test(r)), `no deno in Requires: ${requires.join(", ")}`);
    const changelog = (await sh("rpm", ["-qp", "--changelog", b.rpm])).stdout;
    assertMatch(changelog, new RegExp(`- ${VERSION.replaceAll(".", "\\.")}-1`));

    const root = `${top}/root`;
    await unpack(b.rpm, root);
    assertEquals(
      // Fedora's rpm names the doc directory without the version, Debian's rpm with it.
      await Deno.readTextFile(`${root}${files.find((f) => f.endsWith("/examples/sst.cnf"))}`),
      await Deno.readTextFile(`${REPO}/packaging/sst.cnf`),
      "the example configuration",
    );
    assertMatch(
      await Deno.readTextFile(`${root}/usr/bin/wsrep_sst_rsync_tunnel`),
      /\/\.\.\/libexec\/wsrep_sst_rsync_tunnel"/,
      "the launcher runs the runtime in libexec",
    );
    assertEquals(
      await sha256(`${root}/usr/libexec/wsrep_sst_rsync_tunnel/deno`),
      await sha256(await Deno.realPath(Deno.execPath())),
      "the private runtime is the deno that built and tested the bundle, unstripped",
    );
    const exe = `${root}/usr/bin/wsrep_sst_rsync_tunnel`;
    const env = { PATH: await pathWithoutDeno(top), HOME: "/nonexistent" };
    const v = await sh(exe, ["--version"], env);
    assertEquals(v.code, 0, v.stderr);
    assertEquals(v.stdout.split("\n")[0], `wsrep_sst_rsync_tunnel ${VERSION}`);
    assertMatch(v.stdout, /^socat \S+ .*with OpenSSL/m);
    assertMatch(v.stdout, /^rsync \S+ /m);
    assertMatch(v.stdout, /^openssl \S+ /m);
    const wan = await sh(`${exe}_wan`, ["--version"], env);
    assertEquals(wan.code, 0, wan.stderr);
    assertMatch(
      wan.stdout,
      /^run as wsrep_sst_rsync_tunnel_wan \(wsrep_sst_method=rsync_tunnel_wan\)/m,
    );

    const pki = `${top}/pki`;
    assertEquals((await sh(exe, ["certs", "ca", "--out", `${pki}/ca`], env)).code, 0);
    const node = await sh(exe, [
      "certs",
      "node",
      "localhost",
      "--ip",
      "127.0.0.1",
      "--ca",
      `${pki}/ca`,
      "--out",
      `${pki}/n`,
    ], env);
    assertEquals(node.code, 0, node.stderr);
    // user=root: the scratch files are root's, and check reads paths as the server's user.
    await Deno.writeTextFile(`${top}/my.cnf`, `[mysqld]\nuser=root\n${node.stdout}`);
    await Deno.mkdir(`${top}/datadir`);
    const c = await sh(exe, [
      "check",
      "--defaults-file",
      `${top}/my.cnf`,
      "--datadir",
      `${top}/datadir`,
    ], env);
    assertEquals(c.code, 0, c.stderr);
    assertMatch(c.stderr, /configuration OK/);

    const man = await sh("man", ["-l", `${root}/usr/share/man/man1/wsrep_sst_rsync_tunnel.1.gz`], {
      MANWIDTH: "80",
      PAGER: "cat",
    });
    assertEquals(man.code, 0, man.stderr);
    assertMatch(man.stdout, /encrypted\s+rsync\s+State\s+Snapshot\s+Transfer/);
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("rpmlint reports no error or warning for the bundle RPM beyond the filters the README explains", async () => {
  const top = await Deno.makeTempDir({ prefix: "rpm-lint-" });
  try {
    const b = await buildRpm(top);
    assertEquals(b.code, 0, b.stderr);
    const lint = await sh("rpmlint", [
      "-c",
      `${REPO}/packaging/rpmlint.toml`,
      "-r",
      `${REPO}/packaging/wsrep_sst_rsync_tunnel.rpmlintrc`,
      b.rpm,
    ]).catch((e) => {
      throw new Error(`rpmlint is not installed (apt-get install rpmlint): ${e}`);
    }); // deno-fmt-ignore
    const tags = lint.stdout.split("\n").filter((l) => / [EW]: /.test(l));
    assertEquals(tags, [], lint.stdout);
    assertMatch(lint.stdout, / 0 errors, 0 warnings/);
    const readme = await Deno.readTextFile(`${REPO}/README.md`);
    const rc = await Deno.readTextFile(`${REPO}/packaging/wsrep_sst_rsync_tunnel.rpmlintrc`);
    for (const f of rc.matchAll(/^addFilter\("([^"]+)"\)/gm)) {
      assert(readme.includes(`\`${f[1]}\``), `the README explains the rpmlint filter ${f[1]}`);
    }
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("the spec's compiled mode packages the executable unstripped in /usr/bin, without runtime, debug package or build-id links", async () => {
  const top = await Deno.makeTempDir({ prefix: "rpm-compiled-" });
  try {
    // Stand-in for a deno compile output: an ELF with a build id and data after its image,
    // which strip would drop (as it would drop deno compile's embedded program).
    const standIn = `${top}/wsrep_sst_rsync_tunnel`;
    const elf = await Deno.readFile("/usr/bin/true");
    const payload = new TextEncoder().encode("\nEMBEDDED-PROGRAM-PAYLOAD\n".repeat(64));
    await Deno.writeFile(standIn, new Uint8Array([...elf, ...payload]), { mode: 0o755 });
    const b = await buildRpm(top, ["--executable", standIn]);
    assertEquals(b.code, 0, b.stderr);
    assertMatch(b.rpm, /\.x86_64\.rpm$|\.aarch64\.rpm$/);
    const rpms = [...Deno.readDirSync(b.rpm.slice(0, b.rpm.lastIndexOf("/")))].map((e) => e.name);
    assertEquals(rpms.filter((n) => n.includes("debug")), [], "no debuginfo/debugsource package");
    const files = (await sh("rpm", ["-qlp", b.rpm])).stdout.trim().split("\n");
    assert(files.includes("/usr/bin/wsrep_sst_rsync_tunnel"), files.join(", "));
    assert(
      !files.some((f) => f.includes(".build-id") || /^\/usr\/lib(exec)?\/wsrep_sst/.test(f)),
      files.join(", "),
    );
    const requires = (await sh("rpm", ["-qp", "--requires", b.rpm])).stdout.split("\n").map((l) =>
      l.trim()
    );
    assert(!requires.includes("deno"), `no Requires: deno in ${requires.join(", ")}`);
    for (const r of ["socat", "rsync", "openssl"]) assert(requires.includes(r), `Requires: ${r}`);
    const root = `${top}/root`;
    await unpack(b.rpm, root);
    assertEquals(
      await sha256(`${root}/usr/bin/wsrep_sst_rsync_tunnel`),
      await sha256(standIn),
      "not stripped",
    );
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("deno task rpm with a DENORT_BIN that is not denort stops at compile and makes no RPM", async () => {
  const top = await Deno.makeTempDir({ prefix: "rpm-denort-" });
  try {
    const b = await buildRpm(top, [], { DENORT_BIN: Deno.execPath() });
    assert(b.code !== 0, "must fail");
    assertMatch(b.stderr, /DENORT_BIN is not a denort runtime|denort/);
    const rpms = await Array.fromAsync(Deno.readDir(`${top}`)).catch(() => []);
    assert(!rpms.some((e) => e.name === "RPMS"), "no RPM built");
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});
