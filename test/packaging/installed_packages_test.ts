/**
 * The packages installed by the package managers, then used by a real cluster, where no deno
 * is on PATH: `scripts/package_targets.ts` installs the .deb with `apt-get install` in a
 * throw-away overlay of this host and of the Debian 11 and 13 roots (when `deno task roots`
 * made them), runs one SST through `/usr/bin/wsrep_sst_rsync_tunnel`, purges the package and
 * checks nothing of it is left; on the host it also runs one SST through the RPM's payload
 * laid out with `rpm2cpio | cpio`. Builds both packages first (needs the bundle of
 * `deno task build`, dpkg-deb, rpmbuild). Needs root.
 */
import { assertEquals } from "../support/assert.ts";
import { testPackages } from "../../scripts/package_targets.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const ROOTS = Deno.env.get("SST_ROOTS_DIR") ?? "/var/cache/wsrep_sst_rsync_tunnel";

async function build(script: string, out: string): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), {
    // The .deb's size is deb_test.ts's concern: level-0 xz here (--fast).
    args: [
      "run",
      "-A",
      `${REPO}/scripts/${script}`,
      "--out",
      out,
      ...(script === "deb.ts" ? ["--fast"] : []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  assertEquals(r.code, 0, `${script}: ${d.decode(r.stderr).slice(-3000)}`);
  return d.decode(r.stdout).trim().split("\n").at(-1)!;
}

let packages: Promise<{ dir: string; deb: string; rpm: string }> | null = null;

function built(): Promise<{ dir: string; deb: string; rpm: string }> {
  packages ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "packages-" });
    return {
      dir,
      deb: await build("deb.ts", `${dir}/deb`),
      rpm: await build("rpm.ts", `${dir}/rpm`),
    };
  })();
  return packages;
}

function rootExists(suite: string): boolean {
  try {
    return Deno.statSync(`${ROOTS}/${suite}/.wsrep-sst-root`).isFile;
  } catch {
    return false;
  }
}

Deno.test("host (Debian 12, MariaDB 10.11): apt-get installs the .deb, an SST runs through it and through the RPM payload, purge leaves nothing", async () => {
  const { deb, rpm } = await built();
  assertEquals(await testPackages("host", { deb, rpm }), 0, "see the output above");
});

for (
  const [suite, what] of [["bullseye", "Debian 11, MariaDB 10.5"], [
    "trixie",
    "Debian 13, MariaDB 11.8",
  ]]
) {
  Deno.test({
    name:
      `${suite} root (${what}): apt-get installs the .deb, an SST runs through it, purge leaves nothing`,
    // Without the root (deno task roots) there is nothing to install into; CI builds it first.
    ignore: !rootExists(suite),
    fn: async () => {
      const { deb } = await built();
      assertEquals(await testPackages(suite, { deb }), 0, "see the output above");
    },
  });
}

Deno.test({
  name: "(cleanup of the packages built for these tests)",
  sanitizeResources: false,
  fn: async () => {
    if (packages) await Deno.remove((await packages).dir, { recursive: true });
  },
});
