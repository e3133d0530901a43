/**
 * Faults during a real `wsrep_sst_method=rsync_tunnel` SST between two mariadbd/Galera nodes:
 * the donor's or the joiner's mariadbd is SIGKILLed while the data moves. Our program on the
 * side that lost its server must exit promptly (it watches `--parent` and its own parent),
 * with every helper (socat, rsync, rsh helpers) gone, and the other side must fail cleanly:
 * no success reported, no helper left, and a surviving donor's server told that it failed.
 *
 * The donor holds a ~200 MiB table so that the transfer lasts long enough to be hit mid-way
 * (the kill happens once that table has started to arrive in the joiner's datadir).
 *
 * Needs the launcher built by `deno task build`.
 */
import { type Cluster, type Node, withCluster } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { bootstrapWithBulk, stopwatch } from "./support/flows.ts";
import { describe, type ProcInfo, readProc } from "../../scripts/lib/procfs.ts";
import { LAUNCHER_DIR, localhostTls } from "../../scripts/lib/launcher.ts";
import { record, recordCount } from "../../scripts/lib/ledger.ts";
import { sleep } from "../../src/proc/process.ts";
import {
  isSameProcessAlive,
  processesInGroups,
  processStartTime,
} from "../../src/proc/liveness.ts";

const BULK_ROWS = 3200; // × 64 KiB off-page blobs ≈ 200 MiB
const BULK_FILE = "e2e/bulk.ibd";

function size(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** Our SST program among a node's processes (the launcher execs deno with our bundle). */
function sstPrograms(procs: ProcInfo[], role: "donor" | "joiner"): ProcInfo[] {
  return procs.filter((p) =>
    p.cmdline.includes("wsrep_sst_rsync_tunnel") && p.cmdline.includes(`--role ${role}`)
  );
}

/**
 * Starts node2 (SST from node1) and resolves once the bulk table has started to arrive in
 * node2's datadir, with the SST programs seen on both nodes by then.
 */
async function startJoinUntilMidTransfer(
  cluster: Cluster,
): Promise<{ bytes: number; donorSst: ProcInfo[]; joinerSst: ProcInfo[] }> {
  const [n1, n2] = cluster.nodes;
  const donorFile = `${n1.datadir}/${BULK_FILE}`;
  const target = `${n2.datadir}/${BULK_FILE}`;
  cluster.start(n2);
  const deadline = Date.now() + 90_000;
  let donorSst: ProcInfo[] = [];
  let joinerSst: ProcInfo[] = [];
  while (Date.now() < deadline) {
    if (!n2.running) {
      throw new Error(`node2 exited before the transfer:\n${cluster.errorLogTail(n2)}`);
    }
    if (donorSst.length === 0) donorSst = sstPrograms(cluster.helpers(n1), "donor");
    if (joinerSst.length === 0) joinerSst = sstPrograms(cluster.helpers(n2), "joiner");
    const bytes = size(target);
    if (bytes > 0) return { bytes, donorSst, joinerSst };
    await sleep(10);
  }
  throw new Error(
    `the bulk table never started to arrive on node2 (donor file ${size(donorFile)} B)\n` +
      cluster.errorLogTail(n2),
  );
}

/** Waits (bounded) until none of `pids` is alive (zombies count as gone); seconds or null. */
async function gone(pids: number[], timeoutMs: number): Promise<number | null> {
  const t = Date.now();
  const alive = (pid: number) => {
    const p = readProc(pid);
    return p !== null && p.state !== "Z" && p.state !== "X";
  };
  while (Date.now() - t < timeoutMs) {
    if (!pids.some(alive)) return (Date.now() - t) / 1000;
    await sleep(100);
  }
  return null;
}

/** The start of every fault: a server SIGKILLed while the bulk table moves. */
interface MidSstKill {
  /** Bytes of the bulk table on node2 at the kill, of `donorFull`. */
  bytes: number;
  donorFull: number;
  /** Our SST programs seen on each side before the kill. */
  donorSst: ProcInfo[];
  joinerSst: ProcInfo[];
  /** Command name of our donor program's parent (mariadbd runs us through `sh -c`). */
  donorParent: string;
  /** Problems found so far. */
  problems: string[];
  lap: (what: string) => void;
}

/**
 * Bootstraps node1 with the bulk table, starts node2's SST and SIGKILLs `victim`'s mariadbd
 * once the bulk table has started to arrive.
 */
async function killMidSst(cluster: Cluster, victim: Node): Promise<MidSstKill> {
  const lap = stopwatch();
  const n1 = cluster.node(1);
  await bootstrapWithBulk(cluster, BULK_ROWS);
  lap("node1 bootstrapped with the bulk table");
  const mid = await startJoinUntilMidTransfer(cluster);
  const donorFull = size(`${n1.datadir}/${BULK_FILE}`);
  const donorParent = mid.donorSst.map((p) => readProc(p.ppid)?.comm ?? "?").join(",");
  await cluster.kill(victim);
  lap(`${victim.name} killed with ${mid.bytes} of ${donorFull} B of the bulk table on node2`);
  const problems: string[] = [];
  if (!(mid.bytes < donorFull)) problems.push("the kill came after the transfer");
  return { ...mid, donorFull, donorParent, problems, lap };
}

/**
 * node1's log once mariadbd has logged that the SST failed (it does so a moment after our donor
 * program exits), or after 10 s without that line.
 */
async function serverToldOfFailure(cluster: Cluster, n1: Node): Promise<string> {
  const deadline = Date.now() + 10_000;
  let log = cluster.logSinceStart(n1);
  while (!/WSREP: SST sending failed/.test(log) && Date.now() < deadline) {
    await sleep(200);
    log = cluster.logSinceStart(n1);
  }
  return log;
}

/** Records the helpers a node left (ledger "orphans"); returns them as problems. */
function orphans(name: string, node: Node, left: string[]): string[] {
  recordCount("orphans", `${name}: ${node.name}`, left.length, left.join("; ") || undefined);
  return left.map((p) => `${node.name} left: ${p}`);
}

/** Records a fault in the ledger, ok without problems; fails with them (and `context`). */
function recordFault(name: string, problems: string[], context: string): void {
  record({
    kind: "fault",
    name,
    ok: problems.length === 0,
    detail: problems.join("; ") || undefined,
  });
  assertEquals(problems, [], `${name}\n${context}`);
}

/** What happened after node1's mariadbd was SIGKILLed during node2's SST. */
interface DonorKill {
  problems: string[];
  /** Seconds until our donor / joiner program had exited (null: still there at the bound). */
  donorSecs: number | null;
  joinerSecs: number | null;
  /** Command name of our donor program's parent (mariadbd runs us through `sh -c`). */
  donorParent: string;
  log1: string;
  log2: string;
}

async function killDonorServerMidSst(cluster: Cluster, name: string): Promise<DonorKill> {
  const [n1, n2] = cluster.nodes;
  const { donorSst, joinerSst, donorParent, problems, lap } = await killMidSst(cluster, n1);
  if (donorSst.length === 0) problems.push("our donor program was never seen");
  if (joinerSst.length === 0) problems.push("our joiner program was never seen");
  const donorSecs = await gone(donorSst.map((p) => p.pid), 60_000);
  const joinerSecs = await gone(joinerSst.map((p) => p.pid), 60_000);
  lap(
    `donor program (parent ${donorParent}) gone after ${donorSecs} s, joiner after ${joinerSecs} s`,
  );
  if (donorSecs === null) problems.push("our donor program still runs 60 s after the kill");
  if (joinerSecs === null) problems.push("our joiner program still runs 60 s after the kill");
  const left1 = (await cluster.waitHelpersGone(n1, 10_000)).map(describe);
  const left2 = (await cluster.waitHelpersGone(n2, 10_000)).map(describe);
  problems.push(...orphans(name, n1, left1), ...orphans(name, n2, left2));
  return {
    problems,
    donorSecs,
    joinerSecs,
    donorParent,
    log1: cluster.logSinceStart(n1),
    log2: cluster.logSinceStart(n2),
  };
}

/** The problems after node2's mariadbd was SIGKILLed during its SST. */
async function killJoinerServerMidSst(cluster: Cluster, name: string): Promise<string[]> {
  const [n1, n2] = cluster.nodes;
  const { donorSst, joinerSst, problems, lap } = await killMidSst(cluster, n2);
  if (joinerSst.length === 0) problems.push("our joiner program was never seen");

  const joinerSecs = await gone(joinerSst.map((p) => p.pid), 15_000);
  if (joinerSecs === null) problems.push("our joiner program outlived its mariadbd by 15 s");
  const left2 = (await cluster.waitHelpersGone(n2, 10_000)).map(describe);
  const donorSecs = await gone(donorSst.map((p) => p.pid), 30_000);
  lap(`joiner program gone after ${joinerSecs} s, donor program after ${donorSecs} s`);
  if (donorSecs === null) problems.push("our donor program still runs 30 s after the kill");
  const left1 = (await cluster.waitHelpersGone(n1, 10_000)).map(describe);
  problems.push(...orphans(name, n1, left1), ...orphans(name, n2, left2));
  const log1 = await serverToldOfFailure(cluster, n1);
  if (!/WSREP_SST: \[ERROR\]/.test(log1)) problems.push("node1's log has no donor error line");
  if (/WSREP_SST: \[INFO\] SST complete on donor/.test(log1)) {
    problems.push("the donor reports a complete SST to a dead joiner");
  }
  if (!/WSREP: SST sending failed/.test(log1)) {
    problems.push("node1's mariadbd was not told that the SST failed");
  }
  if ((await cluster.status(n1, "wsrep_local_state_comment")) === null) {
    problems.push("node1's mariadbd no longer answers");
  }
  return problems;
}

/**
 * A write on `node` after a failed SST, bounded twice: `lock_wait_timeout` makes a server
 * that still holds FLUSH TABLES WITH READ LOCK answer with an error after 5 s, and the client
 * is killed after 15 s. Returns the problem, or null when the row committed and reads back.
 */
async function writeCommits(cluster: Cluster, node: Node, id: number): Promise<string | null> {
  try {
    const rows = await cluster.sql(
      node,
      "SET SESSION lock_wait_timeout=5;\n" +
        `INSERT INTO e2e.bulk (id, b) VALUES (${id}, 'written after the failed SST');\n` +
        `SELECT COUNT(*) FROM e2e.bulk WHERE id = ${id}`,
      15_000,
    );
    const n = rows.at(-1)?.[0];
    return n === "1" ? null : `the row written on ${node.name} reads back ${n} times`;
  } catch (e) {
    return `a write on ${node.name} after the failed SST did not commit: ${
      (e as Error).message.slice(0, 400)
    }`;
  }
}

/**
 * node2's TLS listener (its socat processes) SIGKILLed once the bulk table has started to
 * arrive: the donor's transfer breaks with both servers alive. Our donor must fail (no
 * success, its error in node1's log, mariadbd told), no helper may be left on either node,
 * and node1 must be Synced and *writable* again (the SST's FLUSH TABLES WITH READ LOCK
 * released).
 */
async function killJoinerTunnelMidSst(cluster: Cluster, name: string): Promise<string[]> {
  const [n1, n2] = cluster.nodes;
  const lap = stopwatch();
  await bootstrapWithBulk(cluster, BULK_ROWS);
  lap("node1 bootstrapped with the bulk table");
  const mid = await startJoinUntilMidTransfer(cluster);
  const donorFull = size(`${n1.datadir}/${BULK_FILE}`);
  const tunnel = cluster.helpers(n2).filter((p) => p.comm === "socat");
  const problems: string[] = [];
  if (tunnel.length === 0) problems.push("no socat of node2 found to kill");
  for (const p of tunnel) {
    try {
      Deno.kill(p.pid, "SIGKILL");
    } catch { /* already gone */ }
  }
  lap(`node2's socat (${tunnel.map((p) => p.pid)}) killed at ${mid.bytes} of ${donorFull} B`);
  if (!(mid.bytes < donorFull)) problems.push("the kill came after the transfer");
  if (mid.donorSst.length === 0) problems.push("our donor program was never seen");
  const donorSecs = await gone(mid.donorSst.map((p) => p.pid), 60_000);
  if (donorSecs === null) problems.push("our donor program still runs 60 s after the kill");
  const left1 = (await cluster.waitHelpersGone(n1, 20_000)).map(describe);
  const left2 = (await cluster.waitHelpersGone(n2, 20_000)).map(describe);
  problems.push(...orphans(name, n1, left1), ...orphans(name, n2, left2));
  const log1 = await serverToldOfFailure(cluster, n1);
  if (!/WSREP_SST: \[ERROR\]/.test(log1)) problems.push("node1's log has no donor error line");
  if (/SST complete on donor/.test(log1)) problems.push("the donor reports a broken SST complete");
  if (!/WSREP: SST sending failed/.test(log1)) {
    problems.push("node1's mariadbd was not told that the SST failed");
  }
  try {
    await cluster.waitSynced(n1, 60_000);
  } catch (e) {
    problems.push(`node1 not Synced after the failed SST: ${(e as Error).message.slice(0, 300)}`);
  }
  const write = await writeCommits(cluster, n1, 1_000_000);
  if (write) problems.push(write);
  lap(`donor program gone after ${donorSecs} s; write on node1: ${write ?? "committed"}`);
  return problems;
}

/** One fault: a server SIGKILLed mid-SST, and how our programs must react. */
interface FaultCase {
  /** The test's name: what it proves. */
  name: string;
  /** The entry's name in the hardening ledger (CI summaries). */
  ledger: string;
  /** Causes the fault on a fresh cluster, records the ledger entry and checks the outcome. */
  run: (cluster: Cluster, ledger: string) => Promise<void>;
}

const CASES: FaultCase[] = [
  {
    name: "donor's mariadbd SIGKILLed mid-SST: our donor and joiner programs end by themselves " +
      "and no helper is left on either node",
    // One scenario checked by two tests: one case in the ledger.
    ledger: "e2e: donor's mariadbd SIGKILLed mid-SST",
    run: async (cluster, name) => {
      const k = await killDonorServerMidSst(cluster, name);
      recordFault(name, k.problems, `--- node2 log ---\n${k.log2.slice(-3000)}`);
    },
  },
  {
    name:
      "donor's mariadbd SIGKILLed mid-SST: our donor abandons within seconds and node2's SST fails",
    ledger: "e2e: donor's mariadbd SIGKILLed mid-SST",
    run: async (cluster, name) => {
      const k = await killDonorServerMidSst(cluster, name);
      // Every check goes into the problems the ledger entry is made of, then the assertion.
      const p = k.problems;
      if (!(k.donorSecs !== null && k.donorSecs < 5)) {
        p.push(`donor program ended ${k.donorSecs} s after the kill, want < 5`);
      }
      if (!/WSREP_SST: \[ERROR\].*(gone|abandon)/.test(k.log1)) {
        p.push("node1's log has no donor error naming the vanished server");
      }
      if (/SST complete on donor/.test(k.log1)) p.push("the donor completes for a dead server");
      if (/SST complete on joiner/.test(k.log2)) p.push("node2 accepts the SST of a dead donor");
      if (!/WSREP_SST: \[ERROR\]/.test(k.log2)) p.push("node2's log has no joiner error line");
      recordFault(
        name,
        p,
        `donor program's parent: ${k.donorParent}; donor gone after ${k.donorSecs} s`,
      );
    },
  },
  {
    name: "joiner's TLS listener (socat) SIGKILLed mid-SST: the donor fails cleanly, no helper " +
      "is left, and node1 is writable again (an INSERT commits within 15 s)",
    ledger: "e2e: joiner's socat SIGKILLed mid-SST (donor writable afterwards)",
    run: async (cluster, name) => {
      const problems = await killJoinerTunnelMidSst(cluster, name);
      const n1 = cluster.node(1);
      recordFault(name, problems, `--- node1 log ---\n${cluster.errorLogTail(n1, 30)}`);
    },
  },
  {
    name: "joiner's mariadbd SIGKILLed mid-SST: our joiner program exits within seconds " +
      "(--parent), its helpers are gone, the donor fails cleanly and node1's server is told",
    ledger: "e2e: joiner's mariadbd SIGKILLed mid-SST",
    run: async (cluster, name) => {
      const problems = await killJoinerServerMidSst(cluster, name);
      const n1 = cluster.node(1);
      recordFault(name, problems, `--- node1 log ---\n${cluster.errorLogTail(n1, 30)}`);
      assert(n1.running, "node1 keeps running");
    },
  },
];

for (const c of CASES) {
  Deno.test(c.name, () =>
    withCluster({
      size: 2,
      sstMethod: "rsync_tunnel",
      pathPrefix: LAUNCHER_DIR,
      // One locked pass of whole files: the faults strike "mid-transfer" of that pass, whatever
      // precopy=auto would choose for the ~250 MiB data set.
      configure: localhostTls(["precopy=off"]),
    }, (cluster) => c.run(cluster, c.ledger)));
}

/** Every process of the process groups our joiner recorded in node2's `wsrep_sst.pid`. */
function joinerLeftovers(n2: Node): ProcInfo[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(`${n2.datadir}/wsrep_sst.pid`);
  } catch { /* no lock file */ }
  const groups = new Set([...text.matchAll(/^group (\d+)$/gm)].map((m) => Number(m[1])));
  return processesInGroups(groups).map((p) => readProc(p)).filter((p) => p !== null);
}

/** Waits (bounded) until `node`'s mariadbd has exited by itself; false if it still runs. */
async function exitsWithin(node: Node, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (node.running && Date.now() < deadline) await sleep(200);
  return !node.running;
}

Deno.test("our joiner program SIGKILLed mid-SST: the listener's connections and rsync daemons it leaves are killed by node2's next joiner before it listens, and the SST then completes with equal checksums", () =>
  withCluster({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    // One capped stream keeps the old transfer running for a while, as a large table does.
    configure: localhostTls(["backup-threads=1", "bwlimit=12M", "precopy=off"]),
  }, async (cluster) => {
    const name = "e2e: joiner program SIGKILLed mid-SST: the next joiner reaps its leftovers";
    const [n1, n2] = cluster.nodes;
    await bootstrapWithBulk(cluster, BULK_ROWS);
    const mid = await startJoinUntilMidTransfer(cluster);
    const problems: string[] = [];
    if (mid.joinerSst.length === 0) problems.push("our joiner program was never seen");
    // By then the donor's small jobs are done: only the bulk table's connection is open (a job
    // that connected after the kill would fail the donor, which would end its leftovers too).
    const target = `${n2.datadir}/${BULK_FILE}`;
    const deadline = Date.now() + 60_000;
    while (size(target) < 64 * 1024 * 1024 && Date.now() < deadline) await sleep(20);
    for (const p of mid.joinerSst) Deno.kill(p.pid, "SIGKILL");
    await sleep(1000);
    const left = joinerLeftovers(n2).map((p) => ({ ...p, started: processStartTime(p.pid) }));
    const rsyncs = left.filter((p) => p.comm === "rsync").map(describe);
    // The premise: what the dead joiner forked still receives data into node2's datadir.
    if (rsyncs.length === 0) problems.push(`no rsync daemon left to reap: ${left.map(describe)}`);
    // mariadbd sees its SST script fail and aborts; the DBA starts it again.
    if (!(await exitsWithin(n2, 60_000))) problems.push("node2's mariadbd did not abort");
    await cluster.kill(n2); // collects its exit (a no-op signal when it is gone)
    cluster.start(n2);
    // The next joiner takes the lock (and reaps) before it starts its TLS listener.
    const listening = Date.now() + 60_000;
    while (!/starting TLS listener/.test(cluster.logSinceStart(n2)) && Date.now() < listening) {
      await sleep(50);
    }
    const survivors = left.filter((p) => p.started && isSameProcessAlive(p.pid, p.started));
    if (survivors.length > 0) problems.push(`still running: ${survivors.map(describe)}`);
    await cluster.waitSynced(n2, 180_000);
    const log2 = cluster.logSinceStart(n2);
    if (!/killing \d+ process\(es\) left behind by a previous SST/.test(log2)) {
      problems.push("node2's next joiner did not say what it killed");
    }
    if (cluster.joinType(n2) !== "SST") problems.push(`node2 joined by ${cluster.joinType(n2)}`);
    const [c1, c2] = [await cluster.checksums(n1), await cluster.checksums(n2)];
    if (JSON.stringify(c1) !== JSON.stringify(c2)) problems.push("checksums differ");
    recordFault(name, problems, `left: ${rsyncs}\n--- node2 log ---\n${log2.slice(-3000)}`);
  }));
