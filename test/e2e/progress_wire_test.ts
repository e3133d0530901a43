/**
 * End-to-end tests of the donor's progress reporting and the opt-in wire keys, with real
 * mariadbd/Galera nodes on loopback running `wsrep_sst_method=rsync_tunnel`:
 *
 * - with `wsrep_debug` (mariadbd then passes `--progress 1`) and `[sst] compress=zstd`,
 *   `compress-level=1`: the SST succeeds with equal checksums, the donor's error log shows the
 *   `copied X of Y (100 %)` line and rsync's `--compress-choice=zstd --compress-level=1`, and
 *   mariadbd accepted the `total`/`complete` protocol lines (no "unknown signal");
 * - both sides say what they are doing: the donor's progress lines and the joiner's name the
 *   pass (`locked pass: copied X of Y`, `locked pass: the donor sends …`, `locked pass: done`),
 *   each side ends with one totals line, rsync's command lines carry no `sh -c` script;
 * - with `[sst] bwlimit=4M`: the donor's data copy takes at least as long as the cap allows
 *   for the bytes it reports, and each rsync carries its share of the cap; a copy that long
 *   shows mid-pass progress lines on both sides.
 *
 * Needs the launcher built by `deno task build` (`dist/bin/wsrep_sst_rsync_tunnel`).
 */
import {
  atLeast,
  type Cluster,
  fileSize,
  type Node,
  type NodeExtra,
  readFrom,
  withCluster,
} from "../../scripts/lib/cluster.ts";
import { assert, assertEquals, diffMaps } from "./support/assert.ts";
import { LAUNCHER_DIR, localhostTls, requireLauncher } from "../../scripts/lib/launcher.ts";

/** `WSREP_SST:` lines of a log text (for messages). */
function sstLines(text: string): string {
  return text.split("\n").filter((l) => l.includes("WSREP_SST")).slice(-40).join("\n");
}

const UNIT: Record<string, number> = { B: 1, KiB: 1024, MiB: 1048576, GiB: 1073741824 };

/** The final `copied X of Y (100 %)` line's total in bytes, or null. */
function copiedTotal(donorLog: string): number | null {
  const m = /copied ([\d.]+) (B|KiB|MiB|GiB) of ([\d.]+) (B|KiB|MiB|GiB) \(100 %\)/.exec(donorLog);
  return m ? Number(m[3]) * UNIT[m[4]] : null;
}

/** Lines of `text` containing `part`. */
function linesWith(text: string, part: string): string[] {
  return text.split("\n").filter((l) => l.includes(part));
}

/**
 * Both sides of an SST with one locked pass of whole files said what they were doing, pass by
 * pass, and ended with one totals line each.
 */
function assertPhasedLogs(donorLog: string, joinerLog: string, ctx: string): void {
  assert(
    /\] locked pass: copied [\d.]+ \S+ of [\d.]+ \S+ \(100 %\)/.test(donorLog),
    `the donor's progress lines name the locked pass${ctx}`,
  );
  assert(
    /\] locked pass: the donor sends [\d.]+ \S+ \(whole files\)/.test(joinerLog) &&
      /\] locked pass: done \([\d.]+ \S+ received, whole files\)/.test(joinerLog),
    `the joiner's progress lines name the locked pass${ctx}`,
  );
  const donorTotals = linesWith(donorLog, "SST totals on donor:");
  assert(
    donorTotals.length === 1 &&
      /complete in [\d.]+ s; passes: locked pass \(whole files, copied [\d.]+ \S+, sent [\d.]+ \S+\); read .*; donor writes blocked for [\d.]+ s/
        .test(donorTotals[0]),
    `one totals line on the donor${ctx}`,
  );
  const joinerTotals = linesWith(joinerLog, "SST totals on joiner:");
  assert(
    joinerTotals.length === 1 &&
      /complete in [\d.]+ s; received [\d.]+ \S+, [\d.]+ MiB\/s; passes the donor announced: locked pass/
        .test(joinerTotals[0]),
    `one totals line on the joiner${ctx}`,
  );
  assert(linesWith(donorLog, "sh -c").length === 0, `no --rsh script in the log${ctx}`);
}

/** Wipes node2, gives both nodes `sst` keys (TLS kept), joins node2; returns the donor log. */
async function sstWith(
  cluster: Cluster,
  tls: (n: Node, c: Cluster) => Promise<NodeExtra>,
  extra: { mysqld?: string[]; sst: string[] },
): Promise<{ donorLog: string; joinerLog: string }> {
  const [n1, n2] = cluster.nodes;
  for (const n of [n1, n2]) {
    const t = await tls(n, cluster);
    await cluster.writeConfig(n, {
      mysqld: extra.mysqld,
      groups: { sst: [...(t.groups?.sst ?? []), ...extra.sst] },
    });
  }
  if (n2.running) await cluster.stop(n2);
  await cluster.wipe(n2);
  const offset = fileSize(n1.errorLog);
  cluster.start(n2);
  await cluster.waitSynced(n2, 120_000);
  assertEquals(cluster.joinType(n2), "SST", "node2 joined by SST");
  assertEquals(
    diffMaps(await cluster.checksums(n1), await cluster.checksums(n2)),
    [],
    "node2 has node1's data",
  );
  return { donorLog: readFrom(n1.errorLog, offset), joinerLog: cluster.logSinceStart(n2) };
}

Deno.test(
  "rsync_tunnel progress and wire keys: progress lines in the donor's error log (and " +
    "total/complete accepted with wsrep_debug), zstd compression on the wire, bwlimit holds",
  async (t) => {
    await requireLauncher();
    const tls = localhostTls();
    await withCluster({
      size: 2,
      sstMethod: "rsync_tunnel",
      pathPrefix: LAUNCHER_DIR,
      configure: tls,
    }, async (cluster) => {
      const [n1] = cluster.nodes;
      cluster.start(n1, { newCluster: true });
      await cluster.waitSynced(n1, 60_000);
      await cluster.loadData(n1);

      await t.step("wsrep_debug + compress=zstd level 1", async () => {
        // Both from the option file: 10.5 does not pass a runtime wsrep_debug on to the donor's
        // --progress, so node1 restarts (alone, as the new cluster) with it set.
        await cluster.writeConfig(n1, { mysqld: ["wsrep_debug=1"], ...(await tls(n1, cluster)) });
        await cluster.stop(n1);
        cluster.start(n1, { newCluster: true });
        await cluster.waitSynced(n1, 60_000);
        const { donorLog, joinerLog } = await sstWith(cluster, tls, {
          mysqld: ["wsrep_debug=1"],
          sst: ["compress=zstd", "compress-level=1"],
        });
        const ctx = `\n--- donor ---\n${sstLines(donorLog)}\n--- joiner ---\n${
          sstLines(joinerLog)
        }`;
        // MariaDB 10.5 passes --progress 0 to both sides even with wsrep_debug=1 (observed in
        // the Debian 11 root): the total/complete lines are a 10.6+ matter there.
        if (atLeast(cluster.version, 10, 6)) {
          assert(/--progress 1/.test(donorLog), `mariadbd passed --progress 1 to the donor${ctx}`);
          assert(
            /--progress 1/.test(joinerLog),
            `mariadbd passed --progress 1 to the joiner${ctx}`,
          );
        }
        assert(
          copiedTotal(donorLog) !== null,
          `the donor logged a final 'copied X of Y (100 %)' line${ctx}`,
        );
        assert(
          /WSREP_SST: \[INFO\] on the wire: compression zstd level 1 \(--compress --compress-choice=zstd --compress-level=1\)/
            .test(donorLog),
          `the donor logged the compression options${ctx}`,
        );
        assert(
          /--compress-choice=zstd --compress-level=1/.test(donorLog),
          `rsync ran with --compress-choice=zstd${ctx}`,
        );
        for (const log of [donorLog, joinerLog]) {
          assert(!/unknown signal/i.test(log), `mariadbd accepted every protocol line${ctx}`);
        }
        assertPhasedLogs(donorLog, joinerLog, ctx);
      });

      await t.step("bwlimit=4M bounds the copy from below", async () => {
        const { donorLog, joinerLog } = await sstWith(cluster, tls, { sst: ["bwlimit=4M"] });
        const ctx = `\n--- donor ---\n${sstLines(donorLog)}\n--- joiner ---\n${
          sstLines(joinerLog)
        }`;
        const total = copiedTotal(donorLog);
        const secs = Number(/locked pass: copied .*? in ([\d.]+) s/.exec(donorLog)?.[1] ?? NaN);
        assert(total !== null && Number.isFinite(secs), `progress and copy time logged${ctx}`);
        assert(/--bwlimit=\d+/.test(donorLog), `rsync ran with --bwlimit${ctx}`);
        // rsync's limiter lets a burst through at the start of each file: allow 25 % slack.
        const floor = (total! / (4 * 1048576)) * 0.75;
        assert(
          secs >= floor,
          `${(total! / 1048576).toFixed(1)} MiB at 4 MiB/s need ≥ ${floor.toFixed(1)} s; the ` +
            `copy took ${secs} s${ctx}`,
        );
        assertPhasedLogs(donorLog, joinerLog, ctx);
        // Both sides report at the same rhythm (PROGRESS_INTERVAL_MS, 10 s, the donor's from
        // the start of the pass, the joiner's from its own start): a pass of over 11 s shows a
        // line before its end on both. The cap makes this one last about 14 s (57 MiB of data).
        if (total! / (4 * 1048576) > 12) {
          assert(
            /\] locked pass: copied [\d.]+ \S+ of [\d.]+ \S+ \(\d\d? %\)/.test(donorLog),
            `the donor logged progress during the pass${ctx}`,
          );
          assert(
            /\] locked pass: received [\d.]+ \S+ of [\d.]+ \S+ \(\d+ %\), [\d.]+ MiB\/s, ETA/
              .test(joinerLog),
            `the joiner logged progress during the pass${ctx}`,
          );
        }
      });
    });
  },
);
