/**
 * No copy that cannot fit, on a real cluster (issue 27 item 3): node2's datadir is a 64 MiB
 * tmpfs (its freshly installed datadir copied in), node1's data set about 100 MiB. The SST
 * fails before node1 locks anything: both error logs hold the one line naming node2's file
 * system, the bytes needed and free, and the fix; the donor exits 28 (node2's mariadbd aborts as
 * soon as the donor fails, so only node1 logs an exit status); node1 stays Synced.
 */
import { chownMysql, type Node, readFrom, withCluster } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { bootstrapWithBulk, stopwatch } from "./support/flows.ts";
import { LAUNCHER_DIR, localhostTls } from "../../scripts/lib/launcher.ts";
import { mountTmpfs } from "../../scripts/lib/fixture.ts";
import { record } from "../../scripts/lib/ledger.ts";

/** Waits (bounded) until `node`'s mariadbd has exited by itself; false if it still runs. */
async function exitsWithin(node: Node, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (node.running && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  return !node.running;
}

/** Moves `node`'s datadir onto a tmpfs of `mb` MiB; returns the unmount. */
async function datadirOnTmpfs(node: Node, mb: number): Promise<() => Promise<void>> {
  const keep = `${node.dir}/data.orig`;
  await Deno.rename(node.datadir, keep);
  await Deno.mkdir(node.datadir);
  const unmount = await mountTmpfs(node.datadir, mb);
  const cp = await new Deno.Command("cp", { args: ["-a", `${keep}/.`, node.datadir] }).output();
  assert(cp.success, "copy the fresh datadir onto the tmpfs");
  await chownMysql(node.datadir);
  await Deno.chmod(node.datadir, 0o750);
  return unmount;
}

const tls = localhostTls();

const FULL =
  /the joiner cannot hold this copy: its file system (\S+) \([^)]*\) needs [\d.]+ MiB \((\d+) bytes\) and has [\d.]+ [KM]iB \((\d+) bytes\) free; free [\d.]+ MiB there or move those directories to a larger file system on the joiner, then restart it/;

Deno.test("rsync_tunnel: node2's datadir on a 64 MiB tmpfs, ~100 MiB on node1: the SST stops before the lock with the file system, bytes and fix in both error logs; node1 stays Synced", () =>
  withCluster({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    // Galera's 32 MiB gcache lives in the node's directory, not on node2's small datadir.
    configure: async (node, cluster) => {
      const base = await tls(node, cluster);
      return {
        ...base,
        providerOptions: [...base.providerOptions ?? [], `gcache.dir=${node.dir}`],
      };
    },
  }, async (cluster) => {
    const lap = stopwatch();
    const [n1, n2] = cluster.nodes;
    await bootstrapWithBulk(cluster, 1400); // + ~88 MiB of 64 KiB blobs
    const unmount = await datadirOnTmpfs(n2, 64);
    try {
      lap("node1 loaded; node2's datadir on a 64 MiB tmpfs");
      cluster.start(n2);
      const gone = await exitsWithin(n2, 90_000);
      // mariadbd aborts as soon as the donor fails; our joiner program writes its last line
      // into the same log a moment later.
      await cluster.waitHelpersGone(n2, 15_000);
      lap("node2 gave up");
      const donorLog = readFrom(n1.errorLog, n1.logOffset);
      const joinerLog = readFrom(n2.errorLog, 0);
      const sst = (l: string) => l.split("\n").filter((x) => /WSREP_SST/.test(x)).join("\n");
      const context = `\n--- node1 ---\n${sst(donorLog)}\n--- node2 ---\n${sst(joinerLog)}\n` +
        cluster.errorLogTail(n2, 40);
      const d = donorLog.match(FULL);
      const j = joinerLog.match(FULL);
      const synced = await cluster.status(n1, "wsrep_local_state_comment");
      const ok = gone && d !== null && j !== null && synced === "Synced" &&
        !/tables flushed and locked/.test(donorLog);
      record({
        kind: "fault",
        name:
          "e2e: joiner datadir too small (64 MiB tmpfs, ~100 MiB data): refused before the lock",
        ok,
        detail: `node2 exited ${gone}, node1 ${synced}`,
      });
      assert(gone, `node2's mariadbd gave up${context}`);
      assert(d, `the donor's error log names the file system${context}`);
      assert(j, `the joiner's error log names the file system${context}`);
      assertEquals(d[1], n2.datadir, "the tmpfs is named by its mount point");
      assert(Number(d[2]) > 64 * 1024 ** 2 && Number(d[3]) < 64 * 1024 ** 2, d[0]);
      assert(
        /\[ERROR\] the donor refused this SST: the joiner cannot hold/.test(joinerLog),
        context,
      );
      assert(!/tables flushed and locked/.test(donorLog), `node1 was never locked${context}`);
      // node1's mariadbd logs our donor's exit status ("Process completed with error: …: 28
      // (No space left …)"); node2's has aborted by then (the loopback test checks the joiner's).
      assert(/: 28 \(No space left on device\)/.test(donorLog), `the donor exited 28${context}`);
      assertEquals(synced, "Synced", "node1 stays Synced");
    } finally {
      if (n2.running) await cluster.stop(n2).catch(() => {});
      await unmount();
    }
  }));
