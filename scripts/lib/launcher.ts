/**
 * What every rsync_tunnel end-to-end test needs: the launcher built by `deno task build`
 * (first in mariadbd's PATH), a check that the mysql user can run it, and per-node TLS
 * material from one test CA.
 *
 * @module
 */
import { chownMysql, type Cluster, type Node, type NodeExtra } from "./cluster.ts";
import { type Ca, makeCa, makeLeaf } from "./pki.ts";
import { denoAdapter, run } from "../../src/proc/process.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** Directory of the launcher built by `deno task build`; put first in mariadbd's PATH. */
export const LAUNCHER_DIR = `${REPO}/dist/bin`;
/** The launcher mariadbd finds as `wsrep_sst_rsync_tunnel`. */
export const LAUNCHER = `${LAUNCHER_DIR}/wsrep_sst_rsync_tunnel`;

/** Fails with a clear message unless the launcher exists and the mysql user can run it. */
export async function requireLauncher(): Promise<void> {
  const st = await Deno.stat(LAUNCHER).catch(() => null);
  if (!st?.isFile) {
    throw new Error(
      `${LAUNCHER} is missing: build it with \`deno task build\` (or run \`deno task test:e2e\`)`,
    );
  }
  if (((st.mode ?? 0) & 0o001) === 0) {
    throw new Error(`${LAUNCHER} is not executable by others (mode ${st.mode?.toString(8)})`);
  }
  const r = await run(denoAdapter, {
    cmd: "runuser",
    args: ["-u", "mysql", "--", "test", "-x", LAUNCHER],
  }, { timeoutMs: 10_000 });
  if (r.code !== 0) {
    throw new Error(`the mysql user cannot execute ${LAUNCHER} (check directory permissions)`);
  }
}

/**
 * A `configure` hook giving every node a certificate from one CA (CN=localhost, SAN
 * DNS:localhost, IP:127.0.0.1) in its `[sst]` group, readable by the mysql user, followed by
 * the `extraSst` lines.
 */
export function localhostTls(
  extraSst: readonly string[] = [],
): (node: Node, cluster: Cluster) => Promise<NodeExtra> {
  let ca: Ca | null = null;
  return async (node, cluster) => {
    const dir = `${cluster.root}/pki`;
    if (!ca) {
      await Deno.mkdir(dir, { recursive: true });
      ca = await makeCa(dir, "e2e-ca");
    }
    const leaf = await makeLeaf(dir, ca, node.name, {
      cn: "localhost",
      sans: ["DNS:localhost", "IP:127.0.0.1"],
    });
    await chownMysql(dir); // files are 0600: the SST program runs as mysql
    return {
      groups: { sst: [`tca=${ca.cert}`, `tcert=${leaf.cert}`, `tkey=${leaf.key}`, ...extraSst] },
    };
  };
}
