/**
 * One SST through a copy installed by a package, run where no `deno` is on PATH: started by
 * `scripts/package_targets.ts` inside a throw-away overlay of the host or of a Debian root
 * (never by `deno test test/e2e`: the file name does not end in `_test.ts`).
 *
 * `SST_PACKAGE_PROGRAM` names the installed command (`/usr/bin/wsrep_sst_rsync_tunnel` from
 * the .deb, or the launcher of an unpacked RPM payload). The test proves that PATH — the one
 * mariadbd gets — finds no deno, that the copy answers `--version` and `check`, and that a real
 * 2-node cluster joins by SST through it (the joiner's log names the installed bundle).
 */
import { chownMysql, withCluster } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { diffMaps } from "./support/assert.ts";
import { VERSION } from "../../src/core/version.ts";

const PROGRAM = Deno.env.get("SST_PACKAGE_PROGRAM") ?? "";
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const o = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout), err: d.decode(o.stderr) };
}

Deno.test({
  name: "an installed package's copy: no deno on PATH, --version, check, and a real SST",
  ignore: PROGRAM === "",
  fn: async () => {
    const bin = PROGRAM.slice(0, PROGRAM.lastIndexOf("/"));
    const path = `${bin}:${SYSTEM_PATH}`;
    const which = await run("/bin/sh", ["-c", "command -v deno"], { PATH: path });
    assert(which.code !== 0, `deno is on PATH ${path}: ${which.out}`);

    const v = await run(PROGRAM, ["--version"], { PATH: path, HOME: "/nonexistent" });
    assertEquals(v.code, 0, v.err);
    assertEquals(v.out.split("\n")[0], `wsrep_sst_rsync_tunnel ${VERSION}`);
    assertMatch(v.out, /^socat \S+ .*with OpenSSL/m);

    let ca: string | null = null;
    await withCluster({
      size: 2,
      sstMethod: "rsync_tunnel",
      pathPrefix: bin,
      env: { PATH: path },
      configure: async (node, cluster) => {
        const pki = `${cluster.root}/pki`;
        if (!ca) {
          ca = `${pki}/ca`;
          const r = await run(PROGRAM, ["certs", "ca", "--out", ca], { PATH: path });
          assertEquals(r.code, 0, r.err);
        }
        const r = await run(PROGRAM, [
          "certs",
          "node",
          "localhost",
          "--ip",
          "127.0.0.1",
          "--ca",
          ca,
          "--out",
          `${pki}/${node.name}`,
        ], { PATH: path });
        assertEquals(r.code, 0, r.err);
        await chownMysql(`${pki}/${node.name}`);
        const lines = r.out.split("\n").map((l) => l.trim())
          .filter((l) => l !== "" && !l.startsWith("#"));
        assertEquals(lines[0], "[sst]", r.out);
        return { groups: { sst: lines.slice(1) } };
      },
    }, async (cluster) => {
      const [n1, n2] = cluster.nodes;
      const c = await run(PROGRAM, ["check", "--defaults-file", n2.cnf, "--role", "joiner"], {
        PATH: path,
      });
      assertEquals(c.code, 0, c.err);
      assertMatch(c.err, /configuration OK/);

      cluster.start(n1, { newCluster: true });
      await cluster.waitSynced(n1, 60_000);
      await cluster.loadData(n1, {});
      cluster.start(n2);
      await cluster.waitSynced(n2, 120_000);
      assertEquals(cluster.joinType(n2), "SST", "node2 joined by SST");
      const a = await cluster.checksums(n1);
      const b = await cluster.checksums(n2);
      assertEquals(diffMaps(a, b), [], "node2 has node1's data after the SST");
      const log = await Deno.readTextFile(n2.errorLog);
      // The .deb's private directory is <prefix>/lib/…, the RPM's <prefix>/libexec/….
      const prefix = PROGRAM.replace(/\/bin\/[^/]+$/, "");
      const libs = ["lib", "libexec"].map((d) => `${prefix}/${d}/wsrep_sst_rsync_tunnel/`);
      assert(
        libs.some((lib) => log.includes(lib)),
        `the joiner's log names the installed bundle in ${libs.join(" or ")}`,
      );
      await cluster.stop(n2);
      await cluster.stop(n1);
    });
  },
});
