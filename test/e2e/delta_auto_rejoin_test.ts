/**
 * `[sst] delta=auto` on a real cluster under `wsrep_sst_method = rsync_tunnel` with the defaults
 * (issue 27 item 1): node2 joins first from its freshly installed datadir (whole files: it holds
 * no earlier copy), is stopped, rows change on node1, and node2 comes back on its old datadir
 * with its state unknown (grastate.dat removed: a full SST). The donor chooses delta transfer
 * because the joiner says it holds an earlier copy, sends far fewer bytes than the data set it
 * compares, and node2's tables equal node1's afterwards.
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

const sstLines = (log: string) => log.split("\n").filter((l) => /WSREP_SST/.test(l)).join("\n");

Deno.test("rsync_tunnel with defaults: node2's first join (fresh datadir) gets whole files; back on its old datadir after changes it gets a delta transfer, far fewer bytes than the data set, and equal tables", () =>
  withCluster({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    configure: localhostTls(),
  }, async (cluster) => {
    const lap = stopwatch();
    const [n1, n2] = cluster.nodes;
    await bootstrapWithBulk(cluster, 160); // + ~10 MiB of 64 KiB blobs
    let from = fileSize(n1.errorLog);
    cluster.start(n2);
    await cluster.waitSynced(n2, 90_000);
    assertEquals(cluster.joinType(n2), "SST", "first join of node2");
    const first = readFrom(n1.errorLog, from);
    assert(
      /delta transfer off \(\[sst\] delta=auto: the joiner holds no earlier copy\): whole files/
        .test(first),
      `a fresh joiner gets whole files\n${sstLines(first)}`,
    );
    lap("node1 bootstrapped, node2 joined by SST (whole files)");

    await cluster.stop(n2);
    await cluster.writeMore(n1, 1);
    await cluster.sql(n1, "UPDATE e2e.bulk SET b = REPEAT(MD5(-id), 2048) WHERE id % 40 = 0");
    await Deno.remove(`${n2.datadir}/grastate.dat`); // state unknown: a full SST
    from = fileSize(n1.errorLog);
    cluster.start(n2);
    await cluster.waitSynced(n2, 90_000);
    lap("node2 rejoined");

    const log = readFrom(n1.errorLog, from);
    const context = `\n--- node1 ---\n${sstLines(log)}`;
    assertEquals(cluster.joinType(n2), "SST", `node2 rejoined by SST${context}`);
    assert(
      /delta transfer on \(\[sst\] delta=auto: the joiner holds an earlier copy, \d+ MiB\)/
        .test(log),
      `the donor chose delta transfer from what the joiner holds${context}`,
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
