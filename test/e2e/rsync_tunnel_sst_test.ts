/**
 * End-to-end test of `wsrep_sst_method=rsync_tunnel` with real mariadbd/Galera nodes running
 * as the mysql user: TLS from one test CA, SST join and IST rejoin with equal checksums, and
 * no plaintext listener (no rsync daemon) during the transfer — only the joiner's socat — and no
 * WSREP_SST warning in either log.
 *
 * Needs the launcher built by `deno task build` (`dist/bin/wsrep_sst_rsync_tunnel`).
 */
import { type Node, withCluster } from "../../scripts/lib/cluster.ts";
import { assert } from "./support/assert.ts";
import { helperListeners, show, sstThenIst } from "./support/flows.ts";
import type { Listener } from "./support/listeners.ts";
import { LAUNCHER_DIR, localhostTls, requireLauncher } from "../../scripts/lib/launcher.ts";
import { GALERA_PLAINTEXT } from "../support/log_lines.ts";

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
      configure: localhostTls(),
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
      // A clean SST says nothing an operator must act on (e.g. socat 1.8's CRL notice).
      const warnings = cluster.nodes.flatMap((n) =>
        Deno.readTextFileSync(n.errorLog).split("\n").filter((l) =>
          l.includes("WSREP_SST: [WARNING]") && !GALERA_PLAINTEXT.test(l)
        )
          .map((l) => `${n.name}: ${l}`)
      );
      assert(warnings.length === 0, `successful SSTs log no warning; got:\n${warnings.join("\n")}`);
    });
  },
);
