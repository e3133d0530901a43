/**
 * Issue 23 item 7 on a real cluster: a joiner whose `innodb_log_group_home_dir` lies in a
 * directory the mysql user cannot write. mariadbd starts and asks for an SST (the rsync methods
 * run before InnoDB starts); our joiner cannot create the redo log directory. It must exit 13
 * (EACCES) with one ERROR line in node2's error log naming the directory, the user and the fix
 * (never `internal error`, a stack trace or 255), and leave no helper behind; mariadbd aborts.
 *
 * Needs the launcher built by `deno task build`.
 */
import { type Cluster, type Node, withCluster } from "../../scripts/lib/cluster.ts";
import { assertEquals } from "./support/assert.ts";
import { LAUNCHER_DIR, localhostTls } from "../../scripts/lib/launcher.ts";
import { describe } from "../../scripts/lib/procfs.ts";
import { record, recordCount } from "../../scripts/lib/ledger.ts";
import { sleep } from "../../src/proc/process.ts";

/** Waits (bounded) until `node`'s mariadbd has exited by itself; false if it still runs. */
async function exitsWithin(node: Node, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (node.running && Date.now() < deadline) await sleep(200);
  return !node.running;
}

/** node2's redo log directory: inside a root-owned 0755 directory (mysql cannot create in it). */
function lockedRedoDir(node: Node): string {
  return `${node.dir}/root-only/redo`;
}

Deno.test("a joiner whose innodb_log_group_home_dir lies in a directory mysql cannot write: our joiner exits 13 with one line naming the directory, the user and the fix in the server's error log, never 255", () => {
  const tls = localhostTls();
  return withCluster({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    configure: async (node: Node, cluster: Cluster) => {
      const extra = await tls(node, cluster);
      if (node.index !== 2) return extra;
      await Deno.mkdir(`${node.dir}/root-only`, { mode: 0o755 });
      return { ...extra, mysqld: [`innodb_log_group_home_dir=${lockedRedoDir(node)}`] };
    },
  }, async (cluster) => {
    const name = "e2e: joiner's innodb_log_group_home_dir not creatable by mysql";
    const [n1, n2] = cluster.nodes;
    cluster.start(n1, { newCluster: true });
    await cluster.waitSynced(n1, 60_000);
    cluster.start(n2);
    const problems: string[] = [];
    if (!(await exitsWithin(n2, 90_000))) problems.push("node2's mariadbd did not abort");
    await cluster.kill(n2); // collects its exit (a no-op when it is gone)
    const log2 = cluster.logSinceStart(n2);
    const errors = log2.split("\n").filter((l) => l.includes("WSREP_SST: [ERROR]"));
    const dir = lockedRedoDir(n2);
    const want = new RegExp(
      `cannot create the server directory ${dir}: permission denied for uid \\d+ \\(mysql\\), ` +
        `the user this SST runs as; chown ${n2.dir}/root-only to that user`,
    );
    if (errors.length !== 1 || !want.test(errors[0])) {
      problems.push(`node2's SST error lines: ${errors.join(" | ") || "none"}`);
    }
    // mariadbd reports the script's exit status with strerror().
    if (
      !/Process completed with error: wsrep_sst_rsync_tunnel.*: 13 \(Permission denied\)/.test(log2)
    ) {
      problems.push("mariadbd does not report exit 13 (Permission denied)");
    }
    if (/internal error|: 255 \(|^\s+at /m.test(log2)) problems.push("an internal error / 255");
    const left = (await cluster.waitHelpersGone(n2, 10_000)).map(describe);
    recordCount("orphans", `${name}: node2`, left.length, left.join("; ") || undefined);
    problems.push(...left.map((p) => `node2 left: ${p}`));
    record({
      kind: "fault",
      name,
      ok: problems.length === 0,
      detail: problems.join("; ") || undefined,
    });
    assertEquals(problems, [], `${name}\n--- node2 log ---\n${log2.slice(-3000)}`);
  });
});
