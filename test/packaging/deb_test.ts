/**
 * The Debian package as CI checks it: `scripts/deb.ts` builds it offline with dpkg-deb; its
 * control fields (architecture, Depends without deno), files (launcher, bundle, private
 * runtime identical to the deno that built it, man page, machine-readable copyright,
 * changelog.Debian.gz) are right; lintian reports no error or warning that is not overridden
 * (the overrides are explained in the README); extracted with `dpkg-deb -x`, the copy runs
 * with no deno on PATH, no network and a HOME it leaves empty. Installation by apt and a real
 * SST run in installed_packages_test.ts. Needs `deno task build` first, dpkg-deb and lintian.
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

async function sha256(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

let built: Promise<{ dir: string; deb: string }> | null = null;

/** Builds the package once for all tests of this file. */
function buildDeb(): Promise<{ dir: string; deb: string }> {
  built ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "deb-test-" });
    const r = await sh(Deno.execPath(), ["run", "-A", `${REPO}/scripts/deb.ts`, "--out", dir]);
    assertEquals(r.code, 0, r.stderr);
    return { dir, deb: r.stdout.trim().split("\n").at(-1)! };
  })();
  return built;
}

Deno.test("deno task deb builds an amd64 package of the bundle and its private runtime, depending on socat, rsync and openssl, never deno", async () => {
  const { deb } = await buildDeb();
  assertMatch(
    deb,
    new RegExp(`/wsrep-sst-rsync-tunnel_${VERSION.replaceAll(".", "\\.")}-1_(amd64|arm64)\\.deb$`),
  );
  const field = async (f: string) => (await sh("dpkg-deb", ["-f", deb, f])).stdout.trim();
  assertEquals(await field("Package"), "wsrep-sst-rsync-tunnel");
  assertMatch(await field("Architecture"), /^(amd64|arm64)$/);
  const depends = (await field("Depends")).split(/,\s*/);
  for (const d of ["socat", "rsync", "openssl"]) assert(depends.includes(d), depends.join(", "));
  assert(depends.some((d) => /^libc6 \(>= 2\.\d+\)$/.test(d)), depends.join(", "));
  assert(!depends.some((d) => /deno/.test(d)), `no deno in ${depends.join(", ")}`);

  const list = (await sh("dpkg-deb", ["-c", deb])).stdout;
  for (
    const f of [
      "./usr/bin/wsrep_sst_rsync_tunnel",
      "./usr/lib/wsrep_sst_rsync_tunnel/wsrep_sst_rsync_tunnel.js",
      "./usr/lib/wsrep_sst_rsync_tunnel/deno",
      "./usr/share/man/man1/wsrep_sst_rsync_tunnel.1.gz",
      "./usr/bin/wsrep_sst_rsync_tunnel_wan -> wsrep_sst_rsync_tunnel",
      "./usr/share/man/man1/wsrep_sst_rsync_tunnel_wan.1.gz -> wsrep_sst_rsync_tunnel.1.gz",
      "./usr/share/doc/wsrep-sst-rsync-tunnel/copyright",
      "./usr/share/doc/wsrep-sst-rsync-tunnel/changelog.Debian.gz",
      "./usr/share/doc/wsrep-sst-rsync-tunnel/README.md.gz",
      "./usr/share/doc/wsrep-sst-rsync-tunnel/examples/sst.cnf",
    ]
  ) assert(list.split("\n").some((l) => l.endsWith(` ${f}`)), `${f} in\n${list}`);
  assert(!/ \.\/usr\/bin\/deno/.test(list), "no deno in /usr/bin");
});

Deno.test("the .deb names the project's maintainer (no example.invalid, no invented Homepage) and is compressed with xz -9", async () => {
  const { dir, deb } = await buildDeb();
  const control = (await sh("dpkg-deb", ["-f", deb])).stdout;
  assertMatch(
    control,
    /^Maintainer: wsrep_sst_rsync_tunnel developers <maintainers@users\.noreply\.r-seed-9614de1b\.example>$/m,
  );
  assert(!control.includes("example.invalid"), control);
  assert(!/^Homepage:/m.test(control), `no Homepage until the project has one:\n${control}`);
  // The data member is xz; its LZMA2 dictionary says the preset: 64 MiB is -9 (-1 has 1 MiB).
  const members = (await sh("ar", ["t", deb])).stdout.trim().split("\n");
  assertEquals(members, ["debian-binary", "control.tar.xz", "data.tar.xz"]);
  const x = `${dir}/x-ar`;
  await Deno.mkdir(x);
  assertEquals(
    (await new Deno.Command("ar", { args: ["x", deb, "data.tar.xz"], cwd: x }).output()).code,
    0,
  );
  const info = await sh("xz", ["--list", "-vv", `${x}/data.tar.xz`]);
  assertEquals(info.code, 0, info.stderr);
  assertMatch(info.stdout, /--lzma2=dict=64MiB/, info.stdout);
});

Deno.test("the .deb's doc directory holds the README and the example [sst] configuration", async () => {
  const { dir, deb } = await buildDeb();
  const x = `${dir}/x-doc`;
  assertEquals((await sh("dpkg-deb", ["-x", deb, x])).code, 0);
  const doc = `${x}/usr/share/doc/wsrep-sst-rsync-tunnel`;
  const readme = await sh("gzip", ["-dc", `${doc}/README.md.gz`]);
  assertEquals(readme.stdout, await Deno.readTextFile(`${REPO}/README.md`), "README.md.gz");
  assertEquals(
    await Deno.readTextFile(`${doc}/examples/sst.cnf`),
    await Deno.readTextFile(`${REPO}/packaging/sst.cnf`),
    "examples/sst.cnf",
  );
});

Deno.test("the .deb's copyright is machine-readable and names the licences of the runtime and of commander", async () => {
  const { dir, deb } = await buildDeb();
  const x = `${dir}/x-copyright`;
  assertEquals((await sh("dpkg-deb", ["-x", deb, x])).code, 0);
  const text = await Deno.readTextFile(`${x}/usr/share/doc/wsrep-sst-rsync-tunnel/copyright`);
  assertMatch(
    text,
    /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/$/m,
  );
  assertMatch(text, /^Files: usr\/lib\/wsrep_sst_rsync_tunnel\/deno$/m);
  assertMatch(text, /the Deno authors/);
  assertMatch(text, /TJ Holowaychuk/);
  for (const l of ["MIT", "BSD-3-Clause", "Apache-2.0"]) {
    assertMatch(text, new RegExp(`^License: ${l}$`, "m"));
  }
  assertEquals(
    await Deno.readTextFile(`${REPO}/LICENSE`).then((t) => t.split("\n")[0]),
    "MIT License",
  );
});

Deno.test("lintian reports no error or warning for the .deb beyond the overrides the README explains", async () => {
  const { deb } = await buildDeb();
  const lint = await sh("lintian", ["--show-overrides", deb]).catch((e) => {
    throw new Error(`lintian is not installed (apt-get install lintian): ${e}`);
  });
  const tags = lint.stdout.split("\n").filter((l) => /^[EW]: /.test(l));
  assertEquals(tags, [], lint.stdout);
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  for (const o of lint.stdout.matchAll(/^O: \S+ (\S+)/gm)) {
    assert(readme.includes(`\`${o[1]}\``), `the README explains the override ${o[1]}`);
  }
});

Deno.test("the extracted copy runs with no deno on PATH, no network, and writes nothing to HOME", async () => {
  const { dir, deb } = await buildDeb();
  const root = `${dir}/x-run`;
  assertEquals((await sh("dpkg-deb", ["-x", deb, root])).code, 0);
  assertEquals(
    await sha256(`${root}/usr/lib/wsrep_sst_rsync_tunnel/deno`),
    await sha256(await Deno.realPath(Deno.execPath())),
    "the private runtime is the deno that built and tested the bundle",
  );
  const home = `${dir}/home`;
  await Deno.mkdir(home);
  const env = { PATH: await pathWithoutDeno(dir), HOME: home, XDG_CACHE_HOME: `${home}/.cache` };
  const exe = `${root}/usr/bin/wsrep_sst_rsync_tunnel`;
  // unshare --net: a network namespace with only a loopback that is down.
  const v = await sh("unshare", ["--net", exe, "--version"], env);
  assertEquals(v.code, 0, v.stderr);
  assertEquals(v.stdout.split("\n")[0], `wsrep_sst_rsync_tunnel ${VERSION}`);
  assertEquals(v.stderr, "", "nothing on stderr (no download, cache or update message)");
  const wan = await sh("unshare", ["--net", `${exe}_wan`, "--version"], env);
  assertEquals(wan.code, 0, wan.stderr);
  assertMatch(
    wan.stdout,
    /^run as wsrep_sst_rsync_tunnel_wan \(wsrep_sst_method=rsync_tunnel_wan\)/m,
  );
  const c = await sh("unshare", ["--net", exe, "check", "--defaults-file", "/dev/null"], env);
  const foreign = c.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("WSREP_SST: "));
  assertEquals(foreign, [], "only our own log lines (no download, cache or update message)");
  assertEquals([...Deno.readDirSync(home)].map((e) => e.name), [], "HOME stays empty");
});

Deno.test({
  name: "(cleanup of the package built for these tests)",
  sanitizeResources: false,
  fn: async () => {
    if (built) await Deno.remove((await built).dir, { recursive: true });
  },
});
