/**
 * End-to-end test of `wsrep_sst_method=rsync_tunnel` with real mariadbd/Galera nodes running
 * as the mysql user: TLS from one test CA, SST join and IST rejoin with equal checksums, and
 * no plaintext listener (no rsync daemon) during the transfer — only the joiner's socat.
 *
 * Needs the launcher built by `deno task build` (`dist/bin/wsrep_sst_rsync_tunnel`).
 */
import { chownMysql, type Cluster, type Node, type NodeExtra, withCluster } from "./cluster.ts";
import { assert } from "./support/assert.ts";
import { helperListeners, show, sstThenIst } from "./support/flows.ts";
import type { Listener } from "./support/listeners.ts";
import { type Ca, makeCa, makeLeaf } from "../support/pki.ts";
import { denoAdapter, run } from "../../src/proc/process.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const LAUNCHER_DIR = `${REPO}/dist/bin`;
const LAUNCHER = `${LAUNCHER_DIR}/wsrep_sst_rsync_tunnel`;

/** Fails with a clear message unless the launcher exists and the mysql user can run it. */
async function requireLauncher(): Promise<void> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(LAUNCHER);
  } catch {
    throw new Error(
      `${LAUNCHER} is missing: build it with \`deno task build\` (or run \`deno task test:e2e\`)`,
    );
  }
  if (!st.isFile || ((st.mode ?? 0) & 0o001) === 0) {
    throw new Error(
      `${LAUNCHER} is not a file executable by others (mode ${st.mode?.toString(8)})`,
    );
  }
  const r = await run(denoAdapter, {
    cmd: "runuser",
    args: ["-u", "mysql", "--", "test", "-x", LAUNCHER],
  }, { timeoutMs: 10_000 });
  if (r.code !== 0) {
    throw new Error(`the mysql user cannot execute ${LAUNCHER} (check directory permissions)`);
  }
}

/** One CA, one certificate per node (CN=localhost, SAN DNS:localhost,IP:127.0.0.1). */
function tlsConfig(): (node: Node, cluster: Cluster) => Promise<NodeExtra> {
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
    return { groups: { sst: [`tca=${ca.cert}`, `tcert=${leaf.cert}`, `tkey=${leaf.key}`] } };
  };
}

function assertOnlyJoinerSocat(phase: string, joiner: Node, listeners: Listener[]): void {
  // Listeners of SST processes of any node, plus anything at all on an SST port.
  const suspicious = listeners.filter((l) =>
    helperListeners([l]).length > 0 || (l.tag === undefined && l.port === joiner.sstPort)
  );
  const bad = suspicious.filter((l) => !(l.name === "socat" && l.tag === joiner.name));
  assert(
    bad.length === 0,
    `${phase}: only the joiner's socat may listen on a new TCP port; also saw: ` +
      show(bad).join(", "),
  );
}

Deno.test(
  "rsync_tunnel SST over TLS: node2 joins by SST, rejoins by IST, data equal, " +
    "only the joiner's socat listens",
  async () => {
    await requireLauncher();
    await withCluster({
      size: 2,
      sstMethod: "rsync_tunnel",
      pathPrefix: LAUNCHER_DIR,
      configure: tlsConfig(),
    }, async (cluster) => {
      const [, n2] = cluster.nodes;
      const r = await sstThenIst(cluster);
      const sstHelpers = helperListeners(r.sstListeners);
      assert(
        sstHelpers.some((l) => l.name === "socat" && l.tag === n2.name && l.port === n2.sstPort),
        `node2's socat listened on its SST port ${n2.sstPort} during the SST; saw: ` +
          (show(r.sstListeners).join(", ") || "nothing"),
      );
      assertOnlyJoinerSocat("SST", n2, r.sstListeners);
      assertOnlyJoinerSocat("IST", n2, r.istListeners);
    });
  },
);
