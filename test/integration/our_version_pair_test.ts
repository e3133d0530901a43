/**
 * Mixed versions of this program in one cluster, as during a rolling upgrade: the donor of the
 * previous landed release (its bundle built from git at {@link PREVIOUS}) against the joiner of
 * this tree, and this tree's donor against the previous joiner. Both must complete, with the
 * joiner's data equal to the donor's, on the default settings and with the optional passes the
 * previous release also had (`precopy = on`, `delta = on`). Real socat, rsync and openssl over
 * loopback; the old bundle runs with the same deno (its launcher from its own scripts/build.ts).
 *
 * The ready address carries the protocol version (`/rsync_tunnel_sst/1`); optional components
 * after it (the joiner's server version, `…/1/mariadb-X.Y.Z`) are ignored by donors that predate
 * them. When PREVIOUS moves to a release that changes the protocol version, the pairs are meant
 * to fail with exit 71 and the donor's "install the same wsrep_sst_rsync_tunnel version" line:
 * change the expectation then, and the README's "Upgrading this program in a rolling cluster".
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst, TEST_STATE } from "../../scripts/lib/sst_driver.ts";
import { type FixtureOptions, makeFixture } from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";

/** The last commit landed on main before the operators work (no release tags yet). */
export const PREVIOUS = "ad6b015";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

let previous: Promise<{ dir: string; launcher: string }> | null = null;

/** Builds PREVIOUS's bundle and launcher once (git archive, its own scripts/build.ts, offline). */
function previousBuild(): Promise<{ dir: string; launcher: string }> {
  previous ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "previous-release-" });
    const tar = await new Deno.Command("sh", {
      args: ["-c", 'git -C "$1" archive "$2" | tar -x -C "$3"', "sh", REPO, PREVIOUS, dir],
      stderr: "piped",
    }).output();
    assertEquals(tar.code, 0, new TextDecoder().decode(tar.stderr));
    await Deno.symlink(`${REPO}/node_modules`, `${dir}/node_modules`);
    const b = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${dir}/scripts/build.ts`],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(b.code, 0, new TextDecoder().decode(b.stderr));
    return { dir, launcher: `${dir}/dist/bin/wsrep_sst_rsync_tunnel` };
  })();
  return previous;
}

/**
 * A node wrapper that runs `program` instead of the driver's (this tree's) launcher, which
 * follows the wrapper with its argv; it first creates `marker`, the proof that it ran.
 */
function runInstead(program: string, marker: string): string[] {
  return ["sh", "-c", 'p="$1"; : > "$2"; shift 3; exec "$p" "$@"', "sh", program, marker];
}

const CASES: { name: string; o: FixtureOptions }[] = [
  { name: "defaults", o: { separateDirs: true, binlog: true } },
  { name: "precopy=on, delta=on", o: { sstLines: ["precopy = on", "delta = on"] } },
];

for (const { name, o } of CASES) {
  for (const oldSide of ["donor", "joiner"] as const) {
    Deno.test(
      `previous release's ${oldSide} (${PREVIOUS}) with this tree's ${
        oldSide === "donor" ? "joiner" : "donor"
      }, ${name}: the SST completes and the joiner's data equals the donor's`,
      async () => {
        const { launcher } = await previousBuild();
        const f = await makeFixture(o);
        try {
          const marker = `${f.root}/previous-release-ran`;
          const wrap = runInstead(launcher, marker);
          const r = await driveSst({
            address: f.address,
            joiner: oldSide === "joiner" ? { ...f.joiner, wrap } : f.joiner,
            donor: oldSide === "donor" ? { ...f.donor, wrap } : f.donor,
          });
          assertEquals(r.joiner.code, 0, r.joiner.stderr);
          assertEquals(r.donor?.code, 0, r.donor?.stderr);
          assertMatch(
            r.joiner.lines[0],
            /^ready [0-9a-f]{32}@127\.0\.0\.1:\d+\/rsync_tunnel_sst\/1/,
          );
          assertEquals(r.joiner.lines.slice(1), [TEST_STATE]);
          assert(
            await Deno.stat(marker).then(() => true, () => false),
            `the ${oldSide} ran the previous release`,
          );
          assertEquals(
            diffDigests(
              await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
              await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
            ),
            [],
          );
        } finally {
          await f.cleanup();
        }
      },
    );
  }
}

Deno.test({
  name: "(cleanup of the previous release's build)",
  sanitizeResources: false,
  fn: async () => {
    if (previous) await Deno.remove((await previous).dir, { recursive: true });
  },
});
