/**
 * Faults during a loopback SST, with real socat, rsync and openssl: our donor or joiner
 * process SIGKILLed or SIGTERMed mid-transfer, and a joiner whose datadir fills up. The side
 * that was hit and the other side must end promptly (the other side's mariadbd is modelled as
 * mariadbd does it: a failed donor makes the joiner's server abort, so the joiner's `--parent`
 * dies), leave no helper process and no private file; after an uncatchable SIGKILL the NEXT
 * SST on the same datadirs must succeed by itself (stale `wsrep_sst.pid`, leftover helpers).
 *
 * Every fault is recorded in the hardening ledger with what was measured.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst, type SstResult, TEST_STATE } from "../../scripts/lib/sst_driver.ts";
import {
  fileSize,
  filesLeftBehind,
  type Fixture,
  leftovers,
  mountTmpfs,
  pollUntil,
  waitNoProcesses,
  withFixture,
} from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { record, recordCount } from "../../scripts/lib/ledger.ts";
import { commandName, isAlive, processesInGroups } from "../../src/proc/liveness.ts";

const MB = 1024 * 1024;
const BIG = 256 * MB;

/** What one SST with a signal sent mid-transfer produced. */
interface KillRun {
  r: SstResult;
  /** Bytes of the big table that had arrived when the signal was sent (0 = never sent). */
  bytesAtKill: number;
  /** Seconds from the signal until the side that was hit exited. */
  hitSecs: number;
  /** Seconds from the signal until the other side exited. */
  otherSecs: number;
}

/**
 * Runs an SST and sends `signal` to our `side` process once the big table has started to
 * arrive. The joiner's `--parent` is a stand-in for its mariadbd, killed when the donor fails
 * (mariadbd: "Will never receive state. Need to abort").
 */
async function killMidTransfer(
  f: Fixture,
  side: "donor" | "joiner",
  signal: Deno.Signal,
): Promise<KillRun> {
  const target = `${f.joiner.layout.datadir}/shop/orders.ibd`;
  const mariadbd = new Deno.Command("sleep", { args: ["300"] }).spawn();
  let killedAt = 0;
  let bytesAtKill = 0;
  const ended = { donor: 0, joiner: 0 };
  const strike = (pid: number) => {
    void pollUntil(() => fileSize(target) > 0, 30_000, 10).then((arrived) => {
      if (!arrived) return;
      bytesAtKill = fileSize(target);
      try {
        Deno.kill(pid, signal);
        killedAt = Date.now();
      } catch { /* already gone: bytesAtKill stays unreported (0) */ }
    });
  };
  try {
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      parent: mariadbd.pid,
      timeoutMs: 60_000,
      onReady: (_a, j) => {
        j.status.then(() => ended.joiner = Date.now());
        if (side === "joiner") strike(j.pid);
        return Promise.resolve();
      },
      onDonorStart: (d) => {
        d.status.then(() => ended.donor = Date.now());
        if (side === "donor") strike(d.pid);
      },
      onDonorFailure: () => {
        mariadbd.kill("SIGKILL");
        return Promise.resolve();
      },
    });
    const other = side === "donor" ? "joiner" : "donor";
    return {
      r,
      bytesAtKill: killedAt ? bytesAtKill : 0,
      hitSecs: (ended[side] - killedAt) / 1000,
      otherSecs: (ended[other] - killedAt) / 1000,
    };
  } finally {
    try {
      mariadbd.kill("SIGKILL");
    } catch { /* gone */ }
    await mariadbd.status;
  }
}

/** The SST between `f`'s two nodes, as mariadbd runs it when nothing goes wrong. */
function sst(f: Fixture): Promise<SstResult> {
  return driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
}

/**
 * Waits up to `ms` for this fixture's helper processes to end, records how many were left as
 * orphans of `name` in the ledger, and returns one problem per process still running.
 */
async function orphanProblems(f: Fixture, name: string, ms: number): Promise<string[]> {
  const procs = await waitNoProcesses(f.root, ms);
  recordCount("orphans", name, procs.length, procs.join("; ") || undefined);
  return procs.map((p) => `left running: ${p}`);
}

/** The problem when the signal did not land while the big table was arriving. */
function notMidTransfer(k: KillRun): string[] {
  return k.bytesAtKill > 0 && k.bytesAtKill < BIG ? [] : [`not mid-transfer (${k.bytesAtKill} B)`];
}

/** Records a fault's outcome (measured) and fails on any problem. */
function verdict(name: string, problems: string[], note?: string): void {
  record({
    kind: "fault",
    name,
    ok: problems.length === 0,
    detail: [...problems, ...(note ? [note] : [])].join("; ") || undefined,
  });
  assertEquals(problems, [], `${name}: unexpected outcome`);
}

/** Checks the second SST: success, same data, its own files removed, nothing running. */
async function assertRecovered(
  name: string,
  f: Fixture,
  r: SstResult,
  tmpBefore: { donor: string[]; joiner: string[] },
  note?: string,
): Promise<void> {
  const problems: string[] = [];
  if (r.joiner.code !== 0) problems.push(`joiner exit ${r.joiner.code}`);
  if (r.donor?.code !== 0) problems.push(`donor exit ${r.donor?.code}`);
  if (r.joiner.lines.at(-1) !== TEST_STATE) problems.push(`joiner final line ${r.joiner.lines}`);
  const diff = diffDigests(
    await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
    await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
  );
  if (diff.length > 0) problems.push(`data differs: ${diff.slice(0, 5).join(", ")}`);
  problems.push(...await orphanProblems(f, `${name}: after the next SST`, 3000));
  // The recovery run must remove its own private directory; anything the killed run left is
  // checked separately.
  for (const side of ["donor", "joiner"] as const) {
    const extra = leftovers(f[side].tmpdir).filter((e) => !tmpBefore[side].includes(e));
    problems.push(...extra.map((e) => `${side} tmpdir: ${e} (of the recovery run)`));
  }
  problems.push(...filesLeftBehind(f).filter((l) => l.includes("datadir")));
  verdict(`${name}: the next SST on the same datadirs succeeds`, problems, note);
}

function tmpdirs(f: Fixture) {
  return { donor: leftovers(f.donor.tmpdir), joiner: leftovers(f.joiner.tmpdir) };
}

Deno.test("SIGKILL of our donor mid-transfer: the joiner fails within seconds, nothing is left running, and the next SST succeeds on the same datadirs", () =>
  withFixture({ bigTableBytes: BIG }, async (f) => {
    const name = "donor SIGKILLed mid-transfer";
    const k = await killMidTransfer(f, "donor", "SIGKILL");
    const problems = notMidTransfer(k);
    if (k.r.donor?.signal !== "SIGKILL") problems.push(`donor ended by ${k.r.donor?.signal}`);
    if (k.r.joiner.code !== 32) problems.push(`joiner exit ${k.r.joiner.code}, want 32`);
    if (k.r.joiner.lines.length !== 1) problems.push(`joiner printed ${k.r.joiner.lines}`);
    if (!(k.otherSecs < 10)) problems.push(`joiner ended ${k.otherSecs} s after the kill`);
    problems.push(...await orphanProblems(f, `${name}: after the failed SST`, 5000));
    const jfiles = filesLeftBehind(f).filter((l) => l.startsWith("joiner"));
    problems.push(...jfiles.map((l) => `the joiner did not clean up: ${l}`));
    // The killed donor cannot clean up; its stale lock must be there for the next SST to take.
    if (!leftovers(f.donor.layout.datadir).includes("wsrep_sst.pid")) {
      problems.push("no stale donor wsrep_sst.pid: the recovery would prove nothing");
    }
    verdict(`${name}: the joiner fails promptly`, problems);

    const before = tmpdirs(f);
    const r = await sst(f);
    assertMatch(r.donor?.stderr, /removing stale .*donor\/data\/wsrep_sst\.pid of pid \d+/);
    await assertRecovered(name, f, r, before);
  }));

/** The process groups `f`'s joiner recorded in its lock file. */
function joinerGroups(f: Fixture): Set<number> {
  const text = Deno.readTextFileSync(`${f.joiner.layout.datadir}/wsrep_sst.pid`);
  return new Set([...text.matchAll(/^group (\d+)$/gm)].map((m) => Number(m[1])));
}

Deno.test("SIGKILL of our joiner mid-transfer: the next joiner kills every process the dead one left (the listener's connections and rsync daemons, still writing) before it listens, and the SST succeeds", () =>
  // One capped stream keeps the first transfer going on one connection after the small jobs are
  // done, as a large table does on a real cluster: a donor job that connected after the kill
  // would fail at once and take the leftovers down with it.
  withFixture({
    bigTableBytes: BIG,
    donorSstLines: ["backup-threads=1", "bwlimit=8M"],
  }, async (f) => {
    const name = "joiner SIGKILLed mid-transfer: the next joiner reaps its leftovers";
    const target = `${f.joiner.layout.datadir}/shop/orders.ibd`;
    const mariadbd = new Deno.Command("sleep", { args: ["300"] }).spawn();
    let killed: (ok: boolean) => void = () => {};
    const kill = new Promise<boolean>((r) => killed = r);
    const first = driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      parent: mariadbd.pid,
      timeoutMs: 90_000,
      onReady: (_a, j) => {
        void pollUntil(() => fileSize(target) > 16 * MB, 30_000, 10).then((arrived) => {
          if (arrived) Deno.kill(j.pid, "SIGKILL");
          killed(arrived);
        });
        return Promise.resolve();
      },
      onDonorFailure: () => {
        mariadbd.kill("SIGKILL");
        return Promise.resolve();
      },
    });
    try {
      assert(await kill, "the big table never started to arrive");
      // The listener, the group's leader, dies with the joiner (`--pdeathsig`); make sure it has
      // (the kernel may deliver that a moment later): what it forked is what must be reaped.
      const groups = joinerGroups(f);
      for (const g of groups) {
        try {
          Deno.kill(g, "SIGKILL");
        } catch { /* already gone */ }
      }
      assert(await pollUntil(() => ![...groups].some(isAlive), 5000, 50), "leader still runs");
      const left = processesInGroups(groups).map((p) => `${p} ${commandName(p)}`);
      // The premise: the dead joiner's connections still run (and write into the datadir).
      assert(left.length >= 2, `nothing of the dead joiner left to reap: ${left}`);
      const grown = fileSize(target);
      assert(
        await pollUntil(() => fileSize(target) > grown, 5000, 50),
        `the leftovers are not writing into the datadir (${left})`,
      );

      const before = tmpdirs(f);
      const atReady: { survivors?: string[] } = {};
      const r = await driveSst({
        address: f.address,
        joiner: f.joiner,
        donor: f.donor,
        onReady: () => {
          atReady.survivors = left.filter((l) => isAlive(Number(l.split(" ")[0])));
          return Promise.resolve();
        },
      });
      const problems: string[] = [];
      const survivors = atReady.survivors;
      if (survivors === undefined) problems.push("the next joiner never got ready");
      else if (survivors.length > 0) problems.push(`still running when ready: ${survivors}`);
      if (!/killing \d+ process\(es\) left behind by a previous SST/.test(r.joiner.stderr)) {
        problems.push(
          `the next joiner did not say what it killed: ${r.joiner.stderr.slice(0, 1500)}`,
        );
      }
      record({
        kind: "fault",
        name,
        ok: problems.length === 0,
        detail: [...problems, `left before the next SST: ${left.join(", ")}`].join("; "),
      });
      assertEquals(problems, []);
      assertMatch(r.joiner.stderr, /removing stale .*joiner\/data\/wsrep_sst\.pid of pid \d+/);
      const old = await first;
      assert(old.donor !== null && old.donor.code !== 0, `first donor exit ${old.donor?.code}`);
      await assertRecovered("joiner SIGKILLed mid-transfer", f, r, before);
    } finally {
      try {
        mariadbd.kill("SIGKILL");
      } catch { /* gone */ }
      await mariadbd.status;
      await first.catch(() => {});
    }
  }));

Deno.test("SIGKILL of our joiner mid-transfer: its TLS listener dies with it and the donor fails within seconds", () =>
  withFixture({ bigTableBytes: BIG }, async (f) => {
    const k = await killMidTransfer(f, "joiner", "SIGKILL");
    const donorFailed = k.r.donor !== null && k.r.donor.code !== 0 && k.otherSecs < 10;
    record({
      kind: "fault",
      name: "joiner SIGKILLed mid-transfer: the donor fails promptly",
      ok: donorFailed,
      detail: `donor exit ${k.r.donor?.code} ${k.otherSecs.toFixed(1)} s after the kill`,
    });
    assert(k.bytesAtKill > 0 && k.bytesAtKill < BIG, `not mid-transfer (${k.bytesAtKill} B)`);
    assert(k.r.donor !== null && k.r.donor.code !== 0, `donor exit ${k.r.donor?.code}`);
    assert(!k.r.donor.lines.some((l) => l.startsWith("done")), "donor reported success");
    assert(k.otherSecs < 10, `donor ended ${k.otherSecs} s after the kill`);
    assertEquals(await waitNoProcesses(f.root, 5000), []);
  }));

Deno.test("SIGKILL of our joiner during the locked pass: the donor's totals line says how long writes were blocked until the failure", () =>
  withFixture({ bigTableBytes: BIG, donorSstLines: ["precopy=off"] }, async (f) => {
    const name =
      "joiner SIGKILLed during the locked pass: the donor says how long writes were blocked";
    const k = await killMidTransfer(f, "joiner", "SIGKILL");
    const log = k.r.donor?.stderr ?? "";
    const problems = notMidTransfer(k);
    if (k.r.donor?.code === 0) problems.push("the donor succeeded");
    if (!/tables flushed and locked at /.test(log)) problems.push("the donor never locked");
    problems.push(...totalsProblems(log, "donor", {
      outcome: /failed \(exit \d+\) after [\d.]+ s/,
      rest: [
        /; passes: locked pass \(whole files, copied [\d.]+ \S+, sent [\d.]+ \S+, failed\);/,
        /; donor writes blocked for [\d.]+ s until the failure/,
      ],
    }));
    const blocked = Number(/donor writes blocked for ([\d.]+) s until/.exec(log)?.[1] ?? NaN);
    if (!(blocked > 0)) problems.push(`blocked for ${blocked} s`);
    verdict(name, problems);
  }));

/**
 * The problems with `side`'s totals line in `log`: there must be exactly one, and it must say
 * `want.outcome` and each of `want.rest`.
 */
function totalsProblems(
  log: string,
  side: "donor" | "joiner",
  want: { outcome: RegExp; rest: RegExp[] },
): string[] {
  const lines = log.split("\n").filter((l) => l.includes(`SST totals on ${side}:`));
  if (lines.length !== 1) return [`${lines.length} totals lines on the ${side}`];
  return [want.outcome, ...want.rest].filter((re) => !re.test(lines[0])).map((re) =>
    `the ${side}'s totals line does not match ${re}: ${lines[0]}`
  );
}

for (const side of ["donor", "joiner"] as const) {
  Deno.test(`SIGKILL of our ${side}: the next SST removes the private directory the killed run left`, () =>
    withFixture({ bigTableBytes: BIG }, async (f) => {
      const k = await killMidTransfer(f, side, "SIGKILL");
      assert(k.bytesAtKill > 0, "mid-transfer");
      const r = await sst(f);
      assertEquals(r.joiner.code, 0, r.joiner.stderr);
      const stale = leftovers(f[side].tmpdir);
      record({
        kind: "fault",
        name: `${side} SIGKILLed: the next SST removes its stale private directory`,
        ok: stale.length === 0,
        detail: stale.join(" ") || undefined,
      });
      assertEquals(stale, [], `${side} tmpdir after the next SST`);
    }));
}

for (const side of ["joiner", "donor"] as const) {
  Deno.test(`SIGTERM to our ${side} mid-transfer: it exits 3, its helpers are gone, its files removed, and the other side fails within seconds`, () =>
    withFixture({ bigTableBytes: BIG }, async (f) => {
      const name = `${side} SIGTERMed mid-transfer`;
      const k = await killMidTransfer(f, side, "SIGTERM");
      const hit = side === "joiner" ? k.r.joiner : k.r.donor;
      const other = side === "joiner" ? k.r.donor : k.r.joiner;
      const problems = notMidTransfer(k);
      if (hit?.code !== 3) problems.push(`${side} exit ${hit?.code}/${hit?.signal}, want 3`);
      if (!/\[ERROR\] received SIGTERM; stopping the SST/.test(hit?.stderr ?? "")) {
        problems.push(`${side} does not say it was stopped by SIGTERM`);
      }
      if (!(k.hitSecs < 8)) problems.push(`${side} took ${k.hitSecs} s to stop`);
      problems.push(...totalsProblems(hit?.stderr ?? "", side, {
        outcome: /failed \(exit 3\) after [\d.]+ s/,
        rest: side === "donor" ? [/; donor writes (blocked for [\d.]+ s until|never blocked)/] : [],
      }));
      if (!other || other.code === 0) problems.push(`other side exit ${other?.code}, want failure`);
      if (!(k.otherSecs < 10)) problems.push(`other side ended ${k.otherSecs} s after SIGTERM`);
      if (k.r.joiner.lines.length !== 1) problems.push(`joiner printed ${k.r.joiner.lines}`);
      if (k.r.donor?.lines.some((l) => l.startsWith("done"))) problems.push("donor printed done");
      problems.push(...await orphanProblems(f, name, 3000));
      problems.push(...filesLeftBehind(f));
      verdict(name, problems);
    }));
}

/**
 * Runs an SST into a joiner datadir on a 48 MiB tmpfs with a 32 MiB table on the donor, the
 * tmpfs filled to 4 MiB free once the joiner has told the donor its free space: the disk fills
 * after the donor's check (joiner_space_test.ts covers a copy refused for want of space).
 */
async function diskFullRun(f: Fixture): Promise<SstResult> {
  const unmount = await mountTmpfs(f.joiner.layout.datadir, 48);
  const mariadbd = new Deno.Command("sleep", { args: ["300"] }).spawn();
  try {
    return await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      parent: mariadbd.pid,
      timeoutMs: 60_000,
      onReady: async () => {
        await Deno.writeFile(`${f.joiner.layout.datadir}/zz_filler`, new Uint8Array(44 * MB));
      },
      onDonorFailure: () => {
        mariadbd.kill("SIGKILL");
        return Promise.resolve();
      },
    });
  } finally {
    try {
      mariadbd.kill("SIGKILL");
    } catch { /* gone */ }
    await mariadbd.status;
    await unmount();
  }
}

Deno.test("joiner disk full: both sides fail without success lines, nothing is left running, no private file remains", () =>
  withFixture({ bigTableBytes: 32 * MB }, async (f) => {
    const name = "joiner datadir runs out of space (8 MiB tmpfs, 32 MiB table)";
    const r = await diskFullRun(f);
    const problems: string[] = [];
    if (!r.donor || r.donor.code === 0) problems.push(`donor exit ${r.donor?.code}`);
    if (r.donor?.lines.some((l) => l.startsWith("done"))) problems.push("donor printed done");
    if (r.joiner.code === 0 || r.joiner.lines.length !== 1) {
      problems.push(`joiner exit ${r.joiner.code}, lines ${r.joiner.lines}`);
    }
    if (!/No space left on device/.test(r.joiner.stderr)) {
      problems.push("the joiner's log does not show the ENOSPC cause");
    }
    problems.push(...await orphanProblems(f, name, 3000));
    problems.push(...filesLeftBehind(f));
    verdict(name, problems);
  }));

Deno.test("joiner disk full: the joiner exits 28 saying it ran out of disk space, the donor says the joiner could not write", () =>
  withFixture({ bigTableBytes: 32 * MB }, async (f) => {
    const r = await diskFullRun(f);
    const ok = r.joiner.code === 28 && /ran out of disk space/.test(r.joiner.stderr) &&
      /joiner could not write/.test(r.donor?.stderr ?? "");
    record({
      kind: "fault",
      name: "joiner disk full: exit 28 on the joiner, clear cause on the donor",
      ok,
      detail: `joiner exit ${r.joiner.code}, donor exit ${r.donor?.code}`,
    });
    assertEquals(r.joiner.code, 28, r.joiner.stderr);
    assertMatch(r.joiner.stderr, /\[ERROR\].*ran out of disk space/);
    assertMatch(r.donor?.stderr, /\[ERROR\].*joiner could not write the data \(disk full/);
  }));
