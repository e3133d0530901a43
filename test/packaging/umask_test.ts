/**
 * The packaging tasks under a restrictive umask: `deno task deb` run with `umask 027` (a common
 * root umask on hardened hosts) builds a package whose directories are 0755 and whose files are
 * 0644 or 0755, control files included; and a build that fails after staging leaves no staging
 * directory behind. Needs `deno task build` first, and dpkg-deb.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

async function sh(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** `deno run -A scripts/deb.ts --out OUT --fast` under `umask 027`, with TMPDIR=tmp. */
function debUnderUmask027(out: string, tmp: string) {
  return sh("sh", [
    "-c",
    'umask 027; exec "$0" run -A "$1" --out "$2" --fast',
    Deno.execPath(),
    `${REPO}/scripts/deb.ts`,
    out,
  ], { TMPDIR: tmp });
}

/** `tar -tv` lines as [mode string, path]. */
function modes(listing: string): [string, string][] {
  return listing.split("\n").filter((l) => l.trim() !== "").map((l) => {
    const f = l.split(/\s+/);
    return [f[0], f.slice(5).join(" ")];
  });
}

Deno.test("under umask 027 deno task deb builds a package whose directories are 0755 and files 0644 or 0755, control files included, and leaves no staging directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "deb-umask-" });
  try {
    const tmp = `${dir}/tmp`;
    await Deno.mkdir(tmp);
    const r = await debUnderUmask027(`${dir}/out`, tmp);
    assertEquals(r.code, 0, r.stderr);
    const deb = r.stdout.trim().split("\n").at(-1)!;
    const data = modes((await sh("dpkg-deb", ["-c", deb])).stdout);
    assert(data.length > 10, JSON.stringify(data));
    for (const [mode, path] of data) {
      if (mode.startsWith("l")) continue;
      const want = mode.startsWith("d")
        ? "drwxr-xr-x"
        : /\/(bin\/wsrep_sst_rsync_tunnel|wsrep_sst_rsync_tunnel\/deno)$/.test(path)
        ? "-rwxr-xr-x"
        : "-rw-r--r--";
      assertEquals(mode, want, path);
    }
    const ctrl = await sh("sh", [
      "-c",
      'dpkg-deb --ctrl-tarfile "$0" | tar -tvf -',
      deb,
    ]);
    assertEquals(ctrl.code, 0, ctrl.stderr);
    const control = modes(ctrl.stdout);
    assertEquals(
      control.map(([m, p]) => `${m} ${p}`).sort(),
      ["-rw-r--r-- ./control", "-rw-r--r-- ./md5sums", "drwxr-xr-x ./"],
    );
    assertEquals([...Deno.readDirSync(tmp)].map((e) => e.name), [], "no staging directory left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task deb that fails after staging (dpkg-deb cannot write the package) exits 1 with the reason and removes its staging directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "deb-fail-" });
  try {
    const tmp = `${dir}/tmp`;
    const out = `${dir}/out`;
    await Deno.mkdir(tmp);
    // A directory where the package file should go, holding a directory of the same name (given
    // a directory, dpkg-deb writes the package of that name into it): dpkg-deb cannot write.
    const arch = (await sh("dpkg", ["--print-architecture"])).stdout.trim();
    const changelog = await Deno.readTextFile(`${REPO}/packaging/debian.changelog`);
    const version = changelog.match(/^\S+ \(([^)]+)\)/)![1];
    const name = `wsrep-sst-rsync-tunnel_${version}_${arch}.deb`;
    await Deno.mkdir(`${out}/${name}/${name}`, { recursive: true });
    const r = await debUnderUmask027(out, tmp);
    assertEquals(r.code, 1, r.stderr);
    assertMatch(r.stderr, /^deno task deb: dpkg-deb .* exited \d+/m);
    assertEquals([...Deno.readDirSync(tmp)].map((e) => e.name), [], "no staging directory left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
