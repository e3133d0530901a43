/**
 * One pass of the donor's transfer, as a value: a {@link Pass} says what it sends and which
 * kind of pass it is, and its kind alone decides how it behaves, in one exhaustive `switch`
 * ({@link rulesOf}):
 *
 * | kind         | sends                             | tolerates                     | progress lines | feeds the pre-copy record |
 * | ------------ | --------------------------------- | ----------------------------- | -------------- | ------------------------- |
 * | `hot`        | the plan, the server takes writes | files that shrank or vanished | no             | yes (all but those files) |
 * | `locked`     | the plan, under the lock          | nothing                       | yes            | no                        |
 * | `completion` | the completion record             | nothing                       | no             | no                        |
 * | `refusal`    | the refusal record                | nothing                       | no             | no                        |
 * | `clone`      | the plan, from the clones         | nothing                       | yes            | no                        |
 *
 * Data passes (`hot`, `locked`, `clone`) run their plan's jobs in parallel streams (one rsync at
 * a time under a bandwidth cap) with the wire options, report progress (INFO lines named after
 * the pass's phase; the `total` / `complete` protocol lines when the kind says so, through the
 * {@link PassObserver} the donor hands in), send the joiner their phase notice alongside
 * (phase_notice.ts: the joiner's progress lines), log what they sent, and tell the observer
 * their figures when they end, well or not (the donor's totals line, sst_totals.ts). Record
 * passes run one rsync, whole-file, without them.
 *
 * The clone pass (issue 24, clone_pass.ts): under the lock the donor clones the frozen files
 * into snapshot directories, sends what cannot be sent from clones by a `locked` pass, writes
 * `continue`, then runs the `clone` pass: the locked pass's rules (tolerates nothing — clones
 * do not change —, writes the progress lines, does not feed the record) under its own name and
 * phase (`clone pass`), sending its plan with every source rebased from a part's directory to
 * its clone root (module, path and names stay: the files land where the locked pass would put
 * them); each job that ended cleanly hands its clones back ({@link Pass} `sent`).
 *
 * @module
 */
import * as log from "../core/log.ts";
import type { Child } from "../proc/process.ts";
import { stop } from "../proc/process.ts";
import { Stopwatch } from "../proc/wait.ts";
import { describeWire, isCapped, rsyncWireOptions } from "../config/wire_options.ts";
import { completionJob, type RsyncJob } from "./passes.ts";
import type { PrecopyRecord } from "./precopy_record.ts";
import { formatBytes, TransferProgress } from "./progress.ts";
import type { Phase, PhaseNotice } from "./phase_notice.ts";
import type { PassSummary } from "./sst_totals.ts";
import { type RsyncLine, settledByLockedPass } from "./rsync_failures.ts";
import type { CopyPlan } from "./copy_plan.ts";
import { rebasePlan, type SnapshotRoot } from "./clone_pass.ts";
import {
  type JobEnd,
  type JobRun,
  type JobWatch,
  type Lanes,
  runJob,
  runPool,
  SHORT_JOB_BYTES,
  type Tunnel,
} from "./rsync_runner.ts";

/** One pass of the transfer; see the module documentation for what each kind does. */
export type Pass =
  /** The pre-copy while the server takes writes (a fuzzy copy the joiner never accepts alone). */
  | { kind: "hot"; plan: CopyPlan; delta: boolean; record: PrecopyRecord }
  /** The copy under the lock: what the joiner will hold. */
  | { kind: "locked"; plan: CopyPlan; delta: boolean }
  /**
   * The completion record (the joiner accepts the data once it arrives), with `before`: records
   * the joiner reads once it is there (passes.ts `completionJob`).
   */
  | { kind: "completion"; file: string; before: readonly string[] }
  /** The refusal record, where the completion record would go: the joiner fails with it. */
  | { kind: "refusal"; file: string }
  /**
   * After `continue`: `plan` (as listed under the lock, its sources the live directories) sent
   * from the clones, each source rebased into its part's clone root (`roots`); `opened` is told
   * of every file a job's rsync has opened, `sent` of every job that ended cleanly (its clones
   * may go).
   */
  | {
    kind: "clone";
    plan: CopyPlan;
    delta: boolean;
    roots: readonly SnapshotRoot[];
    opened: (job: RsyncJob, name: string) => void;
    sent: (job: RsyncJob) => void;
  };

/** Where a pass reports to its caller (the donor makes one per SST). */
export interface PassObserver {
  /** Writes a `total`/`complete` protocol line (only with `--progress 1`; else undefined). */
  protocol?: (line: string) => void;
  /**
   * Writes the phase notice of a data pass (phase_notice.ts) into a private file and returns
   * its path: the pass sends it to the joiner as it starts, for the joiner's progress lines.
   */
  notice?: (notice: PhaseNotice) => Promise<string>;
  /** Told when a data pass ended, well or not (the donor's totals line). */
  ended?: (summary: PassSummary) => void;
}

/** What a pass's kind decides. */
interface Rules {
  /** The pass's name in the log. */
  name: string;
  /** A data pass's phase, as its progress lines and the joiner's name it; null for records. */
  phase: Phase | null;
  /** What it sends: a plan of jobs (delta or whole files), or one record file. */
  sends:
    | { kind: "plan"; plan: CopyPlan; delta: boolean }
    | { kind: "record"; file: string; before: readonly string[] };
  /** The lines of a failed rsync that this pass tolerates, or null (a failure). */
  tolerated: (code: number, lines: readonly string[]) => RsyncLine[] | null;
  /** Whether it writes the protocol's progress lines (the pass that ends the SST does). */
  progress: boolean;
  /**
   * Told of every job that ended cleanly (`settled` empty) or with a failure the pass tolerates
   * (`settled`: the lines naming the files that shrank or vanished), or null.
   */
  ended: ((job: RsyncJob, settled: readonly RsyncLine[]) => void) | null;
  /** Told of every file a job's rsync has opened (rsync_runner.ts `opened`), or null. */
  opened: ((job: RsyncJob, name: string) => void) | null;
}

const NOTHING_TOLERATED = () => null;

/**
 * The rules of `pass`'s kind: the one place a kind decides behaviour (exhaustive: a new kind
 * does not compile until it has its case here).
 */
function rulesOf(pass: Pass): Rules {
  switch (pass.kind) {
    case "hot":
      return {
        name: "hot pre-copy (the server takes writes)",
        phase: "hot pre-copy",
        sends: { kind: "plan", plan: pass.plan, delta: pass.delta },
        // A file that shrank or vanished while read: the locked pass compares it again.
        tolerated: settledByLockedPass,
        progress: false,
        ended: (job, settled) => pass.record.ended(job, settled),
        opened: null,
      };
    case "locked":
      return {
        name: pass.delta ? "locked delta pass" : "locked pass",
        phase: pass.delta ? "locked delta pass" : "locked pass",
        sends: { kind: "plan", plan: pass.plan, delta: pass.delta },
        tolerated: NOTHING_TOLERATED,
        progress: true,
        ended: null,
        opened: null,
      };
    case "clone":
      return {
        name: pass.delta ? "clone delta pass (from the clones)" : "clone pass (from the clones)",
        phase: "clone pass",
        sends: { kind: "plan", plan: rebasePlan(pass.plan, pass.roots), delta: pass.delta },
        tolerated: NOTHING_TOLERATED,
        progress: true,
        ended: pass.sent, // it tolerates nothing: only jobs that ended cleanly
        // Each clone goes once its rsync has it open: its blocks stop being shared sooner.
        opened: pass.opened,
      };
    case "completion":
      return recordRules("completion record", {
        kind: "record",
        file: pass.file,
        before: pass.before,
      });
    case "refusal":
      return recordRules("refusal record", { kind: "record", file: pass.file, before: [] });
  }
}

/** A record pass: one file (and those before it), nothing tolerated, no progress. */
function recordRules(name: string, sends: Rules["sends"]): Rules {
  return {
    name,
    phase: null,
    sends,
    tolerated: NOTHING_TOLERATED,
    progress: false,
    ended: null,
    opened: null,
  };
}

/** Runs `pass` through `tunnel`; throws an `SstError` explaining the first failure. */
export async function runPass(pass: Pass, tunnel: Tunnel, observer: PassObserver): Promise<void> {
  const rules = rulesOf(pass);
  const { sends } = rules;
  switch (sends.kind) {
    case "plan":
      return await runDataPass(sends.plan, sends.delta, rules, tunnel, observer);
    case "record": {
      // Whole file, no wire options: a few hundred bytes that must land by rename.
      const tally = new PassTally(rules, null);
      return await runJob(completionJob(sends.file, sends.before), tunnel, tally.jobRun(false));
    }
  }
}

/**
 * Runs one data pass of `plan` in parallel streams (one rsync at a time under a bandwidth cap),
 * reporting progress, and logs what it took.
 */
async function runDataPass(
  plan: CopyPlan,
  delta: boolean,
  rules: Rules,
  tunnel: Tunnel,
  observer: PassObserver,
): Promise<void> {
  const { name } = rules;
  const clock = new Stopwatch();
  const wireOptions = rsyncWireOptions(tunnel.wire);
  const onWire = (job: RsyncJob): RsyncJob => ({
    ...job,
    options: [...wireOptions, ...job.options],
  });
  const jobs = plan.jobs.map((s) => ({ ...s, job: onWire(s.job) }));
  if (wireOptions.length > 0) {
    log.info(`on the wire: ${describeWire(tunnel.wire)} (${wireOptions.join(" ")})`);
  }
  const phase = rules.phase ?? "locked pass";
  const meter = new TransferProgress(plan.total, {
    info: log.info,
    protocol: rules.progress ? observer.protocol : undefined,
    label: { phase, verb: delta ? "compared" : "copied" },
  });
  const tally = new PassTally(rules, meter);
  const lead = plan.lead && onWire(plan.lead);
  const streams = tunnel.streams;
  const lanes: Lanes = isCapped(tunnel.wire)
    ? { kind: "serial", lead }
    : { kind: "parallel", streams, short: { lead, shortBytes: SHORT_JOB_BYTES } };
  log.info(
    `${name}: ${jobs.length} parts` +
      (lanes.kind === "serial"
        ? `, one rsync at a time: [sst] bwlimit caps the whole transfer and rsync cannot ` +
          `change a running stream's rate (backup-threads=${streams} not used)`
        : ` in up to ${streams} parallel streams`),
  );
  const run = tally.jobRun(delta);
  const notice = new NoticeSender(observer, tunnel);
  notice.send({ phase, total: plan.total, delta });
  let ok = false;
  try {
    await runPool(jobs, lanes, {
      run: (job) => runJob(job, tunnel, run),
      stopOthers: () => tally.stopRunning(),
    });
    ok = true;
  } finally {
    await notice.settle(ok);
    const read = ok ? plan.total : meter.copied();
    const seconds = clock.elapsed() / 1000;
    observer.ended?.({ phase, delta, read, sent: tally.sent, seconds, ok });
  }
  meter.finish();
  if (tally.settled.length > 0) logSettled(name, tally.settled);
  const { sent } = tally;
  const verb = delta ? "compared" : "copied";
  const seconds = clock.elapsed() / 1000;
  log.info(
    `${name}: ${verb} ${formatBytes(plan.total)}, sent ${formatBytes(sent)} (${sent} bytes) in ` +
      `${seconds.toFixed(1)} s`,
  );
}

/**
 * Sends a data pass's phase notice to the joiner beside the pass (one small rsync, its failure
 * tolerated: the joiner then reports an unknown total; a joiner of an older version ignores
 * the file). Never lengthens the pass: it runs alongside, and is stopped if the pass fails.
 */
class NoticeSender implements JobWatch {
  #sending: Promise<void> = Promise.resolve();
  #child: Child | null = null;

  constructor(private readonly observer: PassObserver, private readonly tunnel: Tunnel) {}

  /** Starts sending `notice` (nothing without an observer that writes it). */
  send(notice: PhaseNotice): void {
    const write = this.observer.notice;
    if (!write) return;
    const tolerateAll = () => [];
    this.#sending = write(notice)
      .then((file) =>
        runJob(
          { ...completionJob(file), label: "phase notice" },
          this.tunnel,
          { delta: false, tolerated: tolerateAll, watch: this },
        )
      )
      .catch((e) => log.debug(`phase notice not sent: ${e instanceof Error ? e.message : e}`));
  }

  /** Waits for the notice's rsync; stops it first when the pass failed. */
  async settle(passOk: boolean): Promise<void> {
    if (!passOk && this.#child) await stop(this.#child, 2000);
    await this.#sending;
  }

  command(line: string): void {
    log.debug(line);
  }
  started(child: Child): void {
    this.#child = child;
  }
  tick(): void {}
  finished(): void {}
}

/** What one pass learns from its rsyncs: the running ones, bytes sent, tolerated lines. */
class PassTally implements JobWatch {
  sent = 0;
  readonly settled: RsyncLine[] = [];
  readonly #running = new Set<Child>();
  #commandLogged = false;

  constructor(private readonly rules: Rules, private readonly meter: TransferProgress | null) {}

  /** How this pass's rsyncs run. */
  jobRun(delta: boolean): JobRun {
    const opened = this.rules.opened;
    return { delta, tolerated: this.rules.tolerated, watch: this, ...(opened ? { opened } : {}) };
  }

  command(line: string): void {
    if (this.#commandLogged) log.debug(line);
    else log.info(line);
    this.#commandLogged = true;
  }

  started(child: Child): void {
    this.#running.add(child);
    child.status.then(() => this.#running.delete(child));
    this.meter?.track(child.pid);
  }

  tick(): void {
    this.meter?.tick();
  }

  finished(job: RsyncJob, end: JobEnd): void {
    if (end.sent !== null) this.sent += end.sent;
    // A clean end vouches that every file the job listed arrived whole; a tolerated one, that
    // every file but those its lines name did (precopy_record.ts).
    if (end.clean || end.tolerated) this.rules.ended?.(job, end.tolerated ?? []);
    if (end.tolerated) this.settled.push(...end.tolerated);
  }

  /** Stops every rsync of this pass still running (after another one failed). */
  async stopRunning(): Promise<void> {
    await Promise.all([...this.#running].map((c) => stop(c, 2000)));
  }
}

/**
 * One line for the files a hot pass could not send whole because they shrank or vanished
 * while it ran: how many, and the first rsync line as a sample (the rest at debug level).
 */
function logSettled(name: string, lines: readonly RsyncLine[]): void {
  const shrunk = lines.filter((l) => l.kind === "shrunk").length;
  log.info(
    `${name}: ${lines.length} rsync error(s) tolerated (${shrunk} file(s) shrank while read, ` +
      `${lines.length - shrunk} vanished; first: ${lines[0].text}): the locked pass ` +
      "compares these files again under the lock",
  );
}
