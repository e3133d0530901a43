/**
 * A donor whose rsync fails right after connecting (real socat, rsync, openssl over loopback):
 * the donor's `rsync` is a wrapper that runs the real one against a module the joiner does not
 * have, so the TLS tunnel is up, the daemon greets, and rsync exits 5 at once. The joiner's
 * mariadbd (its `--parent`) aborts as mariadbd does when the donor fails. Both sides must end
 * with a documented exit code (never 255 "internal error") and one `[ERROR]` line naming the
 * cause, and leave nothing behind — also when something removed the joiner's private directory
 * meanwhile (the joiner's abort path used to read the daemon log from there and crash).
 *
 * Recorded in the hardening ledger as faults.
 */
import { assertEquals } from "../support/assert.ts";
import { driveSst, type SideResult, type SstResult } from "../../scripts/lib/sst_driver.ts";
import {
  type Fixture,
  leftovers,
  makeFixture,
  makeToolDir,
  pidsMentioning,
  signalAll,
  toolPath,
  waitNoProcesses,
} from "../../scripts/lib/fixture.ts";
import { record, recordCount } from "../../scripts/lib/ledger.ts";
import { filesLeftBehind } from "../../scripts/lib/fixture.ts";
import { ExitCode } from "../../src/core/errors.ts";

const DOCUMENTED = new Set<number>(Object.values(ExitCode).filter((c) => c !== 0));

/** A PATH whose `rsync` connects through our tunnel to a module the joiner does not have. */
async function brokenRsyncPath(f: Fixture): Promise<string> {
  const bin = await makeToolDir(`${f.root}/broken-rsync-bin`, [], {
    rsync: [
      "# rsync whose destination module is replaced: the daemon answers @ERROR (exit 5)",
      'for a in "$@"; do',
      "  shift",
      "  case $a in",
      '    *::*) set -- "$@" "${a%%::*}::no_such_module/" ;;',
      '    *) set -- "$@" "$a" ;;',
      "  esac",
      "done",
      `exec '${toolPath("rsync")}' "$@"`,
    ].join("\n"),
  });
  return `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;
}

/**
 * Runs the SST with the broken donor rsync; `beforeAbort` runs once the donor has failed,
 * before the joiner's mariadbd aborts.
 */
async function run(f: Fixture, beforeAbort?: () => Promise<void>): Promise<SstResult> {
  const mariadbd = new Deno.Command("sleep", { args: ["300"] }).spawn();
  try {
    return await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: { ...f.donor, env: { PATH: await brokenRsyncPath(f) } },
      parent: mariadbd.pid,
      timeoutMs: 60_000,
      onDonorFailure: async () => {
        await beforeAbort?.();
        mariadbd.kill("SIGKILL"); // "Will never receive state. Need to abort."
      },
    });
  } finally {
    try {
      mariadbd.kill("SIGKILL");
    } catch { /* gone */ }
    await mariadbd.status;
  }
}

/** Problems with how one side ended: a documented code, one clear [ERROR] line, no crash. */
function endProblems(side: string, r: SideResult | null, cause: RegExp): string[] {
  if (!r) return [`${side} never ran`];
  const out: string[] = [];
  if (!DOCUMENTED.has(r.code)) {
    out.push(`${side} exit ${r.code}/${r.signal}: not a documented code`);
  }
  const errors = r.stderr.split("\n").filter((l) => l.includes("[ERROR]"));
  if (errors.length !== 1) out.push(`${side} logged ${errors.length} [ERROR] lines: ${errors}`);
  else if (!cause.test(errors[0])) out.push(`${side} error does not name the cause: ${errors[0]}`);
  if (/internal error|readfile|Uncaught/i.test(r.stderr)) out.push(`${side} crashed: ${r.stderr}`);
  if (r.lines.some((l) => l.startsWith("done") || /^[0-9a-f-]{36}:/.test(l))) {
    out.push(`${side} reported success: ${r.lines}`);
  }
  return out;
}

async function verdict(name: string, f: Fixture, r: SstResult, extra: string[] = []) {
  const problems = [
    ...endProblems(
      "donor",
      r.donor,
      /joiner refused the transfer \(wrong per-SST secret or module\)/,
    ),
    ...endProblems("joiner", r.joiner, /mariadbd \(--parent \d+\) is gone|parent process/),
    ...extra,
  ];
  if (r.donor?.code !== ExitCode.protocol) problems.push(`donor exit ${r.donor?.code}, want 71`);
  if (r.joiner.code !== ExitCode.transfer) problems.push(`joiner exit ${r.joiner.code}, want 32`);
  const procs = await waitNoProcesses(f.root, 5000);
  recordCount("orphans", name, procs.length, procs.join("; ") || undefined);
  problems.push(...procs.map((p) => `left running: ${p}`));
  problems.push(...filesLeftBehind(f));
  record({
    kind: "fault",
    name,
    ok: problems.length === 0,
    detail: problems.join("; ") ||
      `donor exit ${r.donor?.code}, joiner exit ${r.joiner.code}`,
  });
  assertEquals(problems, [], `${name}: unexpected outcome`);
}

Deno.test("donor rsync fails right after connecting: donor exits 71, joiner 32, one clear [ERROR] line each, nothing left", async () => {
  const f = await makeFixture();
  try {
    const r = await run(f);
    await verdict("donor rsync fails right after connecting", f, r);
  } finally {
    signalAll(pidsMentioning(f.root), "SIGKILL");
    await f.cleanup();
  }
});

Deno.test("donor rsync fails right after connecting while the joiner's private directory was removed: still exit 32 with the cause, no internal error", async () => {
  const f = await makeFixture();
  try {
    let removed: string[] = [];
    const r = await run(f, async () => {
      // An outside cleaner (or an older version's sweep) removes the joiner's private directory.
      removed = leftovers(f.joiner.tmpdir);
      for (const e of removed) await Deno.remove(`${f.joiner.tmpdir}/${e}`, { recursive: true });
    });
    await verdict(
      "donor rsync fails right after connecting, joiner's private dir removed meanwhile",
      f,
      r,
      removed.length === 1 ? [] : [`removed ${removed.length} private directories, want 1`],
    );
  } finally {
    signalAll(pidsMentioning(f.root), "SIGKILL");
    await f.cleanup();
  }
});
