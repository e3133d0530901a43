/**
 * A delta re-join on a real cluster (`wsrep_sst_method = rsync_tunnel_wan`): node2 joins, is
 * stopped, rows change on node1, and node2 comes back with its state unknown (grastate.dat
 * removed: a full SST, as for a node down too long for IST). Its older copy is rsync's basis: the
 * donor logs delta transfer (chosen by the wan name) and sends far fewer bytes than the data set
 * it compares; node2's tables equal node1's afterwards.
 *
 * Needs the launcher and its `wsrep_sst_rsync_tunnel_wan` link built by `deno task build`.
 */
import { fileSize, readFrom, withCluster } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { bootstrapWithBulk, stopwatch } from "./support/flows.ts";
import { LAUNCHER_DIR, localhostTls } from "../../scripts/lib/launcher.ts";

/** `12.3 MiB` (formatBytes) → bytes. */
function parseBytes(text: string): number {
  const m = text.match(/^([\d.]+) (B|KiB|MiB|GiB)$/);
  assert(m, `not a size: ${text}`);
  return Number(m[1]) * 1024 ** ["B", "KiB", "MiB", "GiB"].indexOf(m[2]);
}

Deno.test("rsync_tunnel_wan: node2 rejoins by SST onto its older copy; the donor sends only what changed, and the tables are equal", () =>
  withCluster({
    size: 2,
    sstMethod: "rsync_tunnel_wan",
    pathPrefix: LAUNCHER_DIR,
    configure: localhostTls(),
  }, async (cluster) => {
    const lap = stopwatch();
    const [n1, n2] = cluster.nodes;
    await bootstrapWithBulk(cluster, 160); // + ~10 MiB of 64 KiB blobs
    cluster.start(n2);
    await cluster.waitSynced(n2, 90_000);
    assertEquals(cluster.joinType(n2), "SST", "first join of node2");
    lap("node1 bootstrapped, node2 joined by SST");

    await cluster.stop(n2);
    await cluster.writeMore(n1, 1);
    await cluster.sql(n1, "UPDATE e2e.bulk SET b = REPEAT(MD5(-id), 2048) WHERE id % 40 = 0");
    await Deno.remove(`${n2.datadir}/grastate.dat`); // state unknown: a full SST
    const from = fileSize(n1.errorLog);
    cluster.start(n2);
    await cluster.waitSynced(n2, 90_000);
    lap("node2 rejoined");

    const log = readFrom(n1.errorLog, from);
    const context = `\n--- node1 ---\n${
      log.split("\n").filter((l) => /WSREP_SST/.test(l)).join("\n")
    }`;
    assertEquals(cluster.joinType(n2), "SST", `node2 rejoined by SST${context}`);
    assert(
      /delta transfer on \(\[sst\] delta=auto, invoked as wsrep_sst_rsync_tunnel_wan\)/.test(log),
      `the donor chose delta transfer by its name${context}`,
    );
    const pass = log.match(/locked delta pass: compared ([\d.]+ \w+), sent [^(]+\((\d+) bytes\)/);
    assert(pass, `a locked delta pass with its bytes${context}`);
    const compared = parseBytes(pass[1]);
    const sent = Number(pass[2]);
    lap(`compared ${pass[1]}, sent ${sent} bytes`);
    assert(compared > 20 * 1024 ** 2, `compared only ${pass[1]}${context}`);
    assert(sent < compared / 4, `sent ${sent} bytes of ${pass[1]}${context}`);
    assertEquals(await cluster.checksums(n2), await cluster.checksums(n1), "node2's tables");
  }));
