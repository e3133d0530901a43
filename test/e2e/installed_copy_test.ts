/**
 * The program as an operator installs it: `deno task install --destdir` into a scratch root
 * (never the real /usr/bin, which mariadbd puts first in PATH), certificates made by the
 * installed copy's `certs` with their printed `[sst]` lines pasted unchanged, and a real
 * 2-node cluster that joins by SST (and rejoins by IST) through that installed copy, whose
 * launcher runs the Deno runtime installed beside the bundle. (The packages, installed by apt
 * with no deno on PATH at all, are tested by test/packaging/installed_packages_test.ts.)
 */
import { chownMysql, withCluster } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { sstThenIst } from "./support/flows.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout), err: d.decode(o.stderr) };
}

/** The `[sst]` lines `certs node` printed, as option-file lines of that group. */
function sstLines(printed: string): string[] {
  const lines = printed.split("\n").map((l) => l.trim()).filter((l) =>
    l !== "" && !l.startsWith("#")
  );
  assertEquals(lines[0], "[sst]", printed);
  return lines.slice(1);
}

Deno.test("deno task install --destdir: a real cluster joins by SST through the installed copy, with certificates made by certs", async () => {
  assert(
    !(await Deno.stat("/usr/bin/wsrep_sst_rsync_tunnel").then(() => true, () => false)),
    "/usr/bin/wsrep_sst_rsync_tunnel exists: mariadbd would run it instead of the installed copy",
  );
  const destdir = await Deno.makeTempDir({ prefix: "install-destdir-" });
  await Deno.chmod(destdir, 0o755);
  try {
    const inst = await run(Deno.execPath(), [
      "run",
      "-A",
      `${REPO}/scripts/install.ts`,
      "--destdir",
      destdir,
      "--bundle",
    ]);
    assertEquals(inst.code, 0, inst.err);
    const exe = `${destdir}/usr/bin/wsrep_sst_rsync_tunnel`;
    const man = await Deno.stat(`${destdir}/usr/share/man/man1/wsrep_sst_rsync_tunnel.1`);
    assert(man.isFile, "man page installed");
    const runtime = await Deno.stat(`${destdir}/usr/lib/wsrep_sst_rsync_tunnel/deno`);
    assert(runtime.isFile && (runtime.mode! & 0o111) !== 0, "private Deno runtime installed");
    const launcher = await Deno.readTextFile(exe);
    assert(
      /^exec "\$lib\/deno" run /m.test(launcher),
      `the launcher runs its own deno:\n${launcher}`,
    );
    let ca: string | null = null;
    await withCluster({
      size: 2,
      sstMethod: "rsync_tunnel",
      pathPrefix: `${destdir}/usr/bin`,
      configure: async (node, cluster) => {
        const pki = `${cluster.root}/pki`;
        if (!ca) {
          ca = `${pki}/ca`;
          const r = await run(exe, ["certs", "ca", "--out", ca]);
          assertEquals(r.code, 0, r.err);
        }
        const r = await run(exe, [
          "certs",
          "node",
          "localhost",
          "--ip",
          "127.0.0.1",
          "--ca",
          ca,
          "--out",
          `${pki}/${node.name}`,
        ]);
        assertEquals(r.code, 0, r.err);
        await chownMysql(`${pki}/${node.name}`);
        return { groups: { sst: sstLines(r.out) } };
      },
    }, async (cluster) => {
      await sstThenIst(cluster);
      const log = await Deno.readTextFile(cluster.nodes[1].errorLog);
      assert(log.includes("WSREP_SST: [INFO]"), "the joiner's log shows our program ran");
      const both = log + await Deno.readTextFile(cluster.nodes[0].errorLog);
      assert(both.includes(destdir), `the SST ran the copy installed under ${destdir}`);
    });
  } finally {
    await Deno.remove(destdir, { recursive: true }).catch(() => {});
  }
});
