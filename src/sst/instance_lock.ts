/**
 * One SST per datadir (docs/sst-protocol.md §11 item 15): `<datadir>/wsrep_sst.pid` holds our PID, our start
 * time, our run id (the {@link RUN_ID_ENV} every child of ours carries) and the process groups
 * of the helpers we started. A live holder makes us wait up to 30 s (then exit 114); a dead
 * holder's file is stale: its leftover helpers are killed and the file replaced. A group number
 * alone proves nothing (the kernel reuses it): a leftover must also carry the dead run's id,
 * run as our user and have started after the holder.
 *
 * @module
 */
import { BusyError, ExitCode } from "../core/errors.ts";
import {
  commandLine,
  commandName,
  environmentValue,
  isAlive,
  isSameProcessAlive,
  processesInGroups,
  processStartTime,
  processUid,
} from "../proc/liveness.ts";
import { RUN_ID_ENV, runId } from "../proc/process.ts";
import { waitFor } from "../proc/wait.ts";
import * as log from "../core/log.ts";
import type { Scope } from "./scope.ts";
import { fsErrorKind, fsFailure, onPathSync } from "../core/fs_errors.ts";

/** The setting that chose the lock file's directory, named in environment errors. */
const DATADIR = "[mysqld] datadir";

/** Name of the lock file inside the datadir (the stock scripts use the same). */
export const PID_FILE = "wsrep_sst.pid";

/** Helper programs whose leftover processes we may kill. */
const HELPERS: ReadonlySet<string> = new Set(["socat", "rsync"]);

/** A held lock; records helper process groups so a successor can clean up after a crash. */
export class InstanceLock {
  #groups: number[] = [];
  constructor(readonly file: string) {}

  /** Records a helper's process group (its leader PID). */
  recordGroup(pgid: number): void {
    this.#groups.push(pgid);
    this.#write();
  }

  #write(): void {
    const lines = [ownerLines(), ...this.#groups.map((g) => `group ${g}`)];
    onPathSync(
      { path: this.file, doing: "record a helper process in", setting: DATADIR },
      () => Deno.writeTextFileSync(this.file, lines.join("\n") + "\n", { mode: 0o600 }),
    );
  }

  /** Removes the file if it is still ours. */
  release(): void {
    try {
      if (Deno.readTextFileSync(this.file).split("\n")[0] === String(Deno.pid)) {
        Deno.removeSync(this.file);
      }
    } catch { /* already gone */ }
  }
}

/** What a lock file says about its holder. */
export interface Holder {
  pid: number;
  /** The holder's start time (`started` line), absent in files of earlier versions. */
  started?: string;
  /** The holder's run id (`run` line), absent in files of earlier versions. */
  run?: string;
  groups: number[];
}

/**
 * Our PID, then `started <clock ticks>` identifying this process beyond PID reuse, then
 * `run <id>`, the id every child of ours carries in its environment.
 */
function ownerLines(): string {
  const started = processStartTime(Deno.pid);
  return [String(Deno.pid), ...(started ? [`started ${started}`] : []), `run ${runId()}`]
    .join("\n");
}

function readHolder(file: string): Holder | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return null;
  }
  const [first, ...rest] = text.split("\n");
  const groups = rest.map((l) => l.match(/^group (\d+)$/)?.[1]).filter((g) => g !== undefined)
    .map(Number);
  const started = rest.map((l) => l.match(/^started (\d+)$/)?.[1]).find((t) => t !== undefined);
  const run = rest.map((l) => l.match(/^run ([0-9a-f]{32})$/)?.[1]).find((t) => t !== undefined);
  return { pid: Number(first.trim()) || 0, started, run, groups };
}

function looksLikeSst(pid: number): boolean {
  const argv = commandLine(pid)?.join(" ") ?? "";
  return argv.includes("wsrep_sst");
}

/**
 * A holder still runs: its PID started at the recorded time (whatever its command line: a
 * compiled binary or a launcher under another name). Files of earlier versions carry no start
 * time; then the PID must be alive and look like an SST script.
 */
function holderAlive(h: Holder): boolean {
  if (h.pid === Deno.pid || h.pid <= 0) return false;
  return h.started !== undefined ? isSameProcessAlive(h.pid, h.started) : isAlive(h.pid) &&
    looksLikeSst(h.pid);
}

/** What procfs says about one process in a recorded group (see {@link isLeftover}). */
export interface ProcessFacts {
  pid: number;
  /** Command name (`comm`), or null when gone. */
  comm: string | null;
  /** Start time in clock ticks since boot, or null. */
  started: string | null;
  /** User id it runs as, or null. */
  uid: number | null;
  /** Its {@link RUN_ID_ENV} value, or null (unset, or its environment is not readable). */
  run: string | null;
}

/**
 * Whether a process of a dead holder's recorded groups is the holder's leftover: a socat or
 * rsync of our own user, started no earlier than the holder, carrying the holder's run id. A
 * holder written by an earlier version (no run id) has no provable leftovers.
 */
export function isLeftover(holder: Holder, p: ProcessFacts, ourUid: number): boolean {
  if (holder.run === undefined || p.run !== holder.run) return false;
  if (p.uid === null || p.uid !== ourUid) return false;
  if (!HELPERS.has(p.comm ?? "")) return false;
  const since = holder.started === undefined ? 0 : Number(holder.started);
  return p.started !== null && Number(p.started) >= since;
}

/** The facts of `pid` from procfs. */
export function processFacts(pid: number): ProcessFacts {
  return {
    pid,
    comm: commandName(pid),
    started: processStartTime(pid),
    uid: processUid(pid),
    run: environmentValue(pid, RUN_ID_ENV),
  };
}

/**
 * The processes a dead holder left running: every process of its recorded process groups that
 * {@link isLeftover} proves to be its own. Not only the group leaders: socat's listener forks
 * one process per connection, which execs an rsync daemon, and those outlive a leader killed
 * with the holder.
 */
export function leftoversOf(
  holder: Holder,
  facts = processFacts,
  ourUid = Deno.uid() ?? 0,
): number[] {
  return processesInGroups(new Set(holder.groups)).map(facts)
    .filter((p) => isLeftover(holder, p, ourUid)).map((p) => p.pid);
}

/** Helpers in the recorded groups that are not provably the holder's: named, never killed. */
function strangersIn(holder: Holder, killed: readonly number[]): string[] {
  return processesInGroups(new Set(holder.groups)).filter((pid) => !killed.includes(pid))
    .filter((pid) => HELPERS.has(commandName(pid) ?? "")).map((p) => `${commandName(p)} ${p}`);
}

/** Kills what a dead holder left running and waits (bounded) until it is gone. */
async function reapLeftovers(holder: Holder, signal?: AbortSignal): Promise<void> {
  const pids = leftoversOf(holder);
  const strangers = strangersIn(holder, pids);
  if (strangers.length > 0) {
    log.info(
      `left running in process group(s) ${holder.groups.join(", ")} once used by a previous SST ` +
        `(pid ${holder.pid}): ${strangers.join(", ")}; not started by that SST (no ` +
        `${RUN_ID_ENV}=<its run id>, another user, or started earlier), so not ours to kill`,
    );
  }
  if (pids.length === 0) return;
  const names = pids.map((p) => `${commandName(p)} ${p}`).join(", ");
  log.warn(
    `killing ${pids.length} process(es) left behind by a previous SST (pid ${holder.pid}), ` +
      `which could still write into the datadir: ${names}`,
  );
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone meanwhile */ }
  }
  await waitFor(() => !pids.some(isAlive), { every: 50, limit: 5000, signal, onTimeout: () => {} });
  const alive = pids.filter(isAlive);
  if (alive.length > 0) {
    throw new BusyError(
      `process(es) ${alive.join(", ")} left behind by a previous SST survive SIGKILL; ` +
        "stop them before the next SST",
      ExitCode.already,
    );
  }
}

/** How long an SST waits for another one on the same datadir (then exit 114). */
export const LOCK_WAIT_SEC = 30;

/**
 * Takes the lock for `datadir`, waiting up to `waitSec` for a live holder; when `signal`
 * aborts meanwhile (a SIGTERM), rejects at once with its reason.
 */
export async function acquireInstanceLock(
  datadir: string,
  scope: Scope,
  waitSec = LOCK_WAIT_SEC,
  signal?: AbortSignal,
): Promise<InstanceLock> {
  const file = `${datadir}/${PID_FILE}`;
  let busy: Holder | null = null;
  const lock = await waitFor(async () => {
    const holder = readHolder(file);
    if (holder && holderAlive(holder)) {
      if (busy === null) {
        log.info(
          `another SST (pid ${holder.pid}) holds ${file}; waiting up to ${waitSec} s for it`,
        );
      }
      busy = holder;
      return undefined;
    }
    if (holder) {
      await reapLeftovers(holder, signal);
      log.info(`removing stale ${file} of pid ${holder.pid}`);
      try {
        Deno.removeSync(file);
      } catch { /* raced */ }
    }
    return takeFile(file);
  }, {
    every: 1000,
    limit: waitSec * 1000,
    signal,
    onTimeout: () => {
      throw new BusyError(
        `another SST (pid ${busy?.pid ?? "?"}) is still running on ${datadir} after ${waitSec} s ` +
          `(see ${file}); wait for it to finish or stop that process`,
        ExitCode.already,
      );
    },
  });
  scope.defer(`release ${file}`, () => lock.release());
  return lock;
}

/** Creates the lock file; undefined when another SST created it first (we wait again). */
function takeFile(file: string): InstanceLock | undefined {
  try {
    Deno.writeTextFileSync(file, `${ownerLines()}\n`, { createNew: true, mode: 0o600 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return undefined;
    // Created, then the write failed (a full disk): the empty file is ours to remove.
    if (["ENOSPC", "EDQUOT"].includes(fsErrorKind(e) ?? "")) {
      try {
        Deno.removeSync(file);
      } catch { /* not created */ }
    }
    const datadir = file.slice(0, file.lastIndexOf("/"));
    throw fsFailure(e, { path: datadir, doing: `create ${PID_FILE} in`, setting: DATADIR });
  }
  return new InstanceLock(file);
}
