/**
 * The `[sst] tunnel-*` timeouts fire as documented (README "Configuration"): with small values
 * in the option files, a donor whose joiner never completes a TLS handshake (or never answers
 * a SYN), a joiner nobody connects to, a mariadbd that never flushes, and an overall deadline
 * over a transfer frozen mid-way each end the SST with exit 110 and an `[ERROR]` naming the key
 * and its value — promptly, with no helper process left and no private or run file left
 * behind. A transfer frozen mid-way on one side must end the SST within a few idle periods;
 * the two idle tests marked BUG show where the idle timeout does not fire as specified.
 *
 * Faults are injected with real processes only: a TCP listener that accepts and never speaks
 * TLS, an unanswered address in a private network namespace (veth, no route out), SIGSTOP of
 * the rsync processes of one side (SIGCONT afterwards), and a driver that never answers
 * `flush tables`. Each fault is recorded in the hardening ledger.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst, type SideResult } from "../support/sst_driver.ts";
import {
  fileSize,
  filesLeftBehind,
  type Fixture,
  freePort,
  makeFixture,
  pidsMentioning,
  pollUntil,
  signalAll,
  waitNoProcesses,
} from "../support/fixture.ts";
import { record, recordCount } from "../support/ledger.ts";
import type { Child } from "../../src/proc/process.ts";

const MB = 1024 * 1024;
const TIMEOUT = 110;

/** Collects failed expectations so that the ledger records the whole outcome. */
class Outcome {
  readonly problems: string[] = [];
  expect(ok: boolean, what: string): void {
    if (!ok) this.problems.push(what);
  }
}

/** The `[ERROR]` lines of a side's stderr (for messages). */
function errors(s: SideResult | null | undefined): string {
  return (s?.stderr ?? "").split("\n").filter((l) => l.includes("[ERROR]")).join("\n");
}

/**
 * Records the fault and the orphan count in the ledger, then fails the test on any problem,
 * leftover helper process (after a 3 s grace) or leftover private/run file.
 */
async function conclude(name: string, f: Fixture, o: Outcome): Promise<void> {
  const procs = await waitNoProcesses(f.root, 3000);
  const files = filesLeftBehind(f);
  const ok = o.problems.length === 0 && procs.length === 0 && files.length === 0;
  record({ kind: "fault", name, ok, detail: [...o.problems, ...files].join("; ") || undefined });
  recordCount("orphans", name, procs.length, procs.join("; ") || undefined);
  assertEquals(o.problems, [], `${name}: unexpected outcome`);
  assertEquals(procs, [], `${name}: no helper process may outlive the SST`);
  assertEquals(files, [], `${name}: private and run files must be removed`);
}

/** Remembers when `child` exited (`endedAt()` is 0 until then). */
function exitClock(child: Child): { endedAt: () => number } {
  let ended = 0;
  child.status.then(() => ended = Date.now());
  return { endedAt: () => ended };
}

Deno.test("tunnel-connect-timeout: a donor whose joiner accepts TCP but never answers TLS exits 110 naming the key, before flushing", async () => {
  const name = "joiner port accepts TCP but never answers the TLS handshake";
  const f = await makeFixture({ donorSstLines: ["tunnel-connect-timeout=2"] });
  const port = freePort();
  const silent = Deno.listen({ hostname: "127.0.0.1", port });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of silent) held.push(c); // accept, never read or write
    } catch { /* closed */ }
  })();
  try {
    let started = 0;
    let clock: { endedAt: () => number } | null = null;
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      timeoutMs: 60_000,
      donorAddress: (a) => a.replace(/:\d+\//, `:${port}/`),
      onDonorStart: (d) => {
        started = Date.now();
        clock = exitClock(d);
      },
    });
    const o = new Outcome();
    const secs = (clock!.endedAt() - started) / 1000;
    o.expect(r.donor?.code === TIMEOUT, `donor exit ${r.donor?.code}, want 110`);
    o.expect(
      /\[ERROR\].*\[sst\] tunnel-connect-timeout=2 s/.test(r.donor?.stderr ?? ""),
      `donor error names the key: ${errors(r.donor)}`,
    );
    o.expect(held.length > 0, "the donor did connect to the silent listener");
    o.expect(secs >= 1.9 && secs < 12, `donor gave up after ${secs} s (2 s configured)`);
    o.expect(
      !(r.donor?.lines ?? []).some((l) => l === "flush tables" || l.startsWith("done")),
      `donor must not lock mariadbd or report success: ${r.donor?.lines}`,
    );
    o.expect(r.joiner.lines.length === 1, "joiner prints no final line");
    await conclude(name, f, o);
  } finally {
    silent.close();
    for (const c of held) c.close();
    await accepting;
    signalAll(pidsMentioning(f.root), "SIGKILL"); // whatever a failure left
    await f.cleanup();
  }
});

/**
 * `sh -c` script run by `unshare -n`: a private network namespace whose only route leads to
 * a veth pair with a permanent neighbour entry, so SYNs to 198.18.0.2 are sent and vanish
 * (no forwarding, no such local address, no way out of the namespace); then the program.
 */
const BLACKHOLE_NS = [
  "set -e",
  "ip link set lo up",
  "ip link add bh0 type veth peer name bh1",
  "ip link set bh0 up",
  "ip link set bh1 up",
  "ip addr add 198.18.0.1/24 dev bh0",
  "ip neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev bh0 nud permanent",
  'exec "$@"',
].join("\n");

function canMakeNetns(): boolean {
  try {
    const r = new Deno.Command("unshare", {
      args: ["-n", "--", "sh", "-c", BLACKHOLE_NS, "sh", "true"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return r.success;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "tunnel-connect-timeout: a donor whose SYNs vanish (unanswered address in a private netns) exits 110 naming the key",
  ignore: !canMakeNetns(),
  fn: async () => {
    const name = "joiner address blackholes TCP SYNs (private network namespace)";
    const f = await makeFixture({ donorSstLines: ["tunnel-connect-timeout=2"] });
    try {
      let started = 0;
      let clock: { endedAt: () => number } | null = null;
      const donor = { ...f.donor, wrap: ["unshare", "-n", "--", "sh", "-c", BLACKHOLE_NS, "sh"] };
      const r = await driveSst({
        address: f.address,
        joiner: f.joiner,
        donor,
        timeoutMs: 60_000,
        donorAddress: (a) => a.replace(/^127\.0\.0\.1:/, "198.18.0.2:"),
        onDonorStart: (d) => {
          started = Date.now();
          clock = exitClock(d);
        },
      });
      const o = new Outcome();
      const secs = (clock!.endedAt() - started) / 1000;
      o.expect(r.donor?.code === TIMEOUT, `donor exit ${r.donor?.code}, want 110`);
      o.expect(
        /\[ERROR\].*\[sst\] tunnel-connect-timeout=2 s/.test(r.donor?.stderr ?? ""),
        `donor error names the key: ${errors(r.donor)}`,
      );
      o.expect(secs >= 1.9 && secs < 12, `donor gave up after ${secs} s (2 s configured)`);
      o.expect(!(r.donor?.lines ?? []).some((l) => l.startsWith("done")), "no done line");
      await conclude(name, f, o);
    } finally {
      signalAll(pidsMentioning(f.root), "SIGKILL"); // whatever a failure left
      await f.cleanup();
    }
  },
});

Deno.test("tunnel-initial-timeout: a joiner no donor connects to exits 110 naming the key, without a final line", async () => {
  const name = "no donor ever connects to the joiner";
  const f = await makeFixture({ sstLines: ["tunnel-initial-timeout=2"] });
  try {
    let readyAt = 0;
    let clock: { endedAt: () => number } | null = null;
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      noDonor: true,
      timeoutMs: 60_000,
      onReady: (_a, j) => {
        readyAt = Date.now();
        clock = exitClock(j);
        return Promise.resolve();
      },
    });
    const o = new Outcome();
    const secs = (clock!.endedAt() - readyAt) / 1000;
    o.expect(r.joiner.code === TIMEOUT, `joiner exit ${r.joiner.code}, want 110`);
    o.expect(
      /\[ERROR\].*\[sst\] tunnel-initial-timeout=2 s/.test(r.joiner.stderr),
      `joiner error names the key: ${errors(r.joiner)}`,
    );
    o.expect(secs >= 1.9 && secs < 10, `joiner gave up ${secs} s after ready (2 s configured)`);
    o.expect(r.joiner.lines.length === 1, `only the ready line: ${r.joiner.lines}`);
    await conclude(name, f, o);
  } finally {
    signalAll(pidsMentioning(f.root), "SIGKILL"); // whatever a failure left
    await f.cleanup();
  }
});

/**
 * Freezes (SIGSTOP) the rsync processes of one side as soon as the big table has started to
 * arrive; returns the frozen PIDs (for SIGCONT) and the size that had arrived.
 */
async function freezeMidTransfer(
  f: Fixture,
  side: "donor" | "joiner",
): Promise<{ pids: number[]; bytes: number }> {
  const target = `${f.joiner.layout.datadir}/shop/orders.ibd`;
  const tmpdir = side === "donor" ? f.donor.tmpdir : f.joiner.tmpdir;
  if (!(await pollUntil(() => fileSize(target) > 0, 30_000, 10))) return { pids: [], bytes: 0 };
  const pids = pidsMentioning(tmpdir, "rsync");
  signalAll(pids, "SIGSTOP");
  return { pids, bytes: fileSize(target) };
}

Deno.test({
  name:
    "tunnel-idle-timeout: with the donor's rsync frozen mid-transfer the joiner exits 110 naming the key, and the donor fails once thawed",
  fn: async () => {
    const name = "donor's rsync frozen (SIGSTOP) mid-transfer";
    const big = 256 * MB;
    const f = await makeFixture({ bigTableBytes: big, sstLines: ["tunnel-idle-timeout=2"] });
    let frozen: number[] = [];
    try {
      let frozenAt = 0;
      let bytes = 0;
      let thawedAt = 0;
      let joinerClock: { endedAt: () => number } | null = null;
      let donorClock: { endedAt: () => number } | null = null;
      const r = await driveSst({
        address: f.address,
        joiner: f.joiner,
        donor: f.donor,
        timeoutMs: 90_000,
        onReady: (_a, j) => {
          joinerClock = exitClock(j);
          // mariadbd would abort the joiner; here the frozen donor is thawed once the joiner
          // gave up, and must then fail by itself.
          j.status.then(() => {
            thawedAt = Date.now();
            signalAll(frozen, "SIGCONT");
          });
          return Promise.resolve();
        },
        onDonorStart: (d) => {
          donorClock = exitClock(d);
          void freezeMidTransfer(f, "donor").then((s) => {
            frozen = s.pids;
            bytes = s.bytes;
            frozenAt = Date.now();
          });
        },
        onDonorFailure: () => Promise.resolve(),
      });
      const o = new Outcome();
      o.expect(frozen.length > 0 && bytes > 0 && bytes < big, `froze mid-transfer (${bytes} B)`);
      const joinerSecs = (joinerClock!.endedAt() - frozenAt) / 1000;
      o.expect(r.joiner.code === TIMEOUT, `joiner exit ${r.joiner.code}, want 110`);
      o.expect(
        /\[ERROR\].*\[sst\] tunnel-idle-timeout=2 s/.test(r.joiner.stderr),
        `joiner error names the key: ${errors(r.joiner)}`,
      );
      o.expect(joinerSecs >= 1.9 && joinerSecs < 15, `joiner gave up ${joinerSecs} s after freeze`);
      o.expect(r.joiner.lines.length === 1, "joiner prints no final line");
      const donorSecs = (donorClock!.endedAt() - thawedAt) / 1000;
      o.expect(r.donor !== null && r.donor.code !== 0, `donor exit ${r.donor?.code}, want failure`);
      o.expect(donorSecs < 10, `donor failed ${donorSecs} s after being thawed`);
      o.expect(!(r.donor?.lines ?? []).some((l) => l.startsWith("done")), "no done line");
      await conclude(name, f, o);
    } finally {
      signalAll(frozen, "SIGCONT");
      signalAll(pidsMentioning(f.root), "SIGKILL"); // whatever a failure left
      await f.cleanup();
    }
  },
});

/** An SST whose joiner-side rsync daemons are frozen mid-transfer (thawed once it ended). */
async function joinerFrozenRun(f: Fixture, big: number) {
  let frozen: number[] = [];
  try {
    let frozenAt = 0;
    let bytes = 0;
    let donorClock: { endedAt: () => number } | null = null;
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      timeoutMs: 90_000,
      onDonorStart: (d) => {
        donorClock = exitClock(d);
        void freezeMidTransfer(f, "joiner").then((s) => {
          frozen = s.pids;
          bytes = s.bytes;
          frozenAt = Date.now();
        });
      },
    });
    signalAll(frozen, "SIGCONT");
    const midway = frozen.length > 0 && bytes > 0 && bytes < big;
    return { r, midway, bytes, donorSecs: (donorClock!.endedAt() - frozenAt) / 1000 };
  } finally {
    signalAll(frozen, "SIGCONT");
  }
}

Deno.test("tunnel-idle-timeout: with the joiner's rsync daemons frozen mid-transfer the donor fails within seconds and leaves nothing", async () => {
  const name = "joiner's rsync daemons frozen (SIGSTOP) mid-transfer";
  const big = 256 * MB;
  const f = await makeFixture({ bigTableBytes: big, sstLines: ["tunnel-idle-timeout=2"] });
  try {
    const { r, midway, bytes, donorSecs } = await joinerFrozenRun(f, big);
    const o = new Outcome();
    o.expect(midway, `froze mid-transfer (${bytes} B)`);
    o.expect(r.donor !== null && r.donor.code !== 0, `donor exit ${r.donor?.code}, want failure`);
    o.expect(!(r.donor?.lines ?? []).some((l) => l.startsWith("done")), "no done line");
    o.expect(donorSecs >= 1.5 && donorSecs < 15, `donor gave up ${donorSecs} s after freeze`);
    o.expect(r.joiner.code !== 0 && r.joiner.lines.length === 1, "joiner fails, no final line");
    await conclude(name, f, o);
  } finally {
    signalAll(pidsMentioning(f.root), "SIGKILL"); // whatever a failure left
    await f.cleanup();
  }
});

Deno.test({
  name:
    "tunnel-idle-timeout: with the joiner's rsync daemons frozen mid-transfer the donor exits 110 naming the key",
  fn: async () => {
    const big = 256 * MB;
    const f = await makeFixture({ bigTableBytes: big, sstLines: ["tunnel-idle-timeout=2"] });
    try {
      const { r, midway, bytes } = await joinerFrozenRun(f, big);
      record({
        kind: "fault",
        name: "joiner's rsync daemons frozen mid-transfer: the donor names tunnel-idle-timeout",
        ok: r.donor?.code === TIMEOUT,
        detail: errors(r.donor) || undefined,
      });
      assert(midway, `froze mid-transfer (${bytes} B)`);
      assertEquals(r.donor?.code, TIMEOUT, errors(r.donor));
      assertMatch(r.donor?.stderr, /\[ERROR\].*tunnel-idle-timeout=2\b/);
    } finally {
      signalAll(pidsMentioning(f.root), "SIGKILL"); // whatever a failure left
      await f.cleanup();
    }
  },
});

Deno.test("tunnel-flush-timeout: a donor whose mariadbd never writes tables_flushed exits 110 naming the key", async () => {
  const name = "mariadbd never answers flush tables";
  const f = await makeFixture({ donorSstLines: ["tunnel-flush-timeout=2"] });
  try {
    let started = 0;
    let clock: { endedAt: () => number } | null = null;
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      noFlushAnswer: true,
      timeoutMs: 60_000,
      onDonorStart: (d) => {
        started = Date.now();
        clock = exitClock(d);
      },
    });
    const o = new Outcome();
    const secs = (clock!.endedAt() - started) / 1000;
    o.expect(r.donor?.code === TIMEOUT, `donor exit ${r.donor?.code}, want 110`);
    o.expect(
      /\[ERROR\].*\[sst\] tunnel-flush-timeout=2 s/.test(r.donor?.stderr ?? ""),
      `donor error names the key: ${errors(r.donor)}`,
    );
    o.expect(secs >= 1.9 && secs < 12, `donor gave up ${secs} s after start (2 s configured)`);
    o.expect(
      JSON.stringify(r.donor?.lines) === '["flush tables"]',
      `donor prints only flush tables: ${r.donor?.lines}`,
    );
    o.expect(r.joiner.lines.length === 1, "joiner prints no final line");
    await conclude(name, f, o);
  } finally {
    signalAll(pidsMentioning(f.root), "SIGKILL"); // whatever a failure left
    await f.cleanup();
  }
});

Deno.test("tunnel-deadline: a transfer frozen mid-way ends on both sides with exit 110 naming the key", async () => {
  const name = "transfer frozen mid-way, overall deadline";
  const big = 256 * MB;
  const deadline = 8;
  // Idle timeouts stay at their 300 s default: only the deadline can end this SST.
  const f = await makeFixture({ bigTableBytes: big, sstLines: [`tunnel-deadline=${deadline}`] });
  let frozen: number[] = [];
  try {
    let joinerStarted = 0;
    let joinerClock: { endedAt: () => number } | null = null;
    let donorStarted = 0;
    let donorClock: { endedAt: () => number } | null = null;
    let bytes = 0;
    const t0 = Date.now();
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      timeoutMs: 60_000,
      onReady: (_a, j) => {
        joinerStarted = t0;
        joinerClock = exitClock(j);
        return Promise.resolve();
      },
      onDonorStart: (d) => {
        donorStarted = Date.now();
        donorClock = exitClock(d);
        void freezeMidTransfer(f, "donor").then((s) => {
          frozen = s.pids;
          bytes = s.bytes;
        });
      },
      // Each side must reach its own deadline: the joiner is not stopped for the donor.
      onDonorFailure: () => Promise.resolve(),
    });
    const o = new Outcome();
    o.expect(frozen.length > 0 && bytes > 0 && bytes < big, `froze mid-transfer (${bytes} B)`);
    for (
      const [side, res, started, clock] of [
        ["joiner", r.joiner, joinerStarted, joinerClock],
        ["donor", r.donor, donorStarted, donorClock],
      ] as const
    ) {
      const secs = ((clock as { endedAt: () => number } | null)!.endedAt() - started) / 1000;
      o.expect(res?.code === TIMEOUT, `${side} exit ${res?.code}, want 110`);
      o.expect(
        new RegExp(`\\[ERROR\\].*\\[sst\\] tunnel-deadline=${deadline} s`).test(res?.stderr ?? ""),
        `${side} error names the key: ${errors(res)}`,
      );
      o.expect(secs < deadline + 8, `${side} ended ${secs} s after its start`);
    }
    o.expect(r.joiner.lines.length === 1, "joiner prints no final line");
    signalAll(frozen, "SIGCONT");
    await conclude(name, f, o);
  } finally {
    signalAll(frozen, "SIGCONT");
    signalAll(pidsMentioning(f.root), "SIGKILL"); // whatever a failure left
    await f.cleanup();
  }
});
