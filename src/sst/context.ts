/**
 * What one SST run carries around: arguments, settings, tools, the process adapter, the
 * cleanup scope, the protocol writer, the instance lock, and the stop conditions (signals,
 * parent death, overall deadline) whose signal every wait takes.
 *
 * @module
 */
import type { SstArgs } from "../core/args.ts";
import type { Settings } from "../config/settings.ts";
import type { Tools } from "../proc/tools.ts";
import type { ProcessAdapter } from "../proc/process.ts";
import { sleep, Stopwatch, watch } from "../proc/wait.ts";
import type { Scope } from "./scope.ts";
import type { ProtocolWriter } from "./protocol.ts";
import type { InstanceLock } from "./instance_lock.ts";
import type { StdinSource } from "./donor_credentials.ts";
import type { ProgramName } from "../core/program_name.ts";
import { isAlive, watchedAncestors } from "../proc/liveness.ts";
import { AbortedError, ExitCode, type SstError, TimeoutError } from "../core/errors.ts";

/** How often the {@link Stopper} looks for a parent gone or the overall deadline passed. */
export const WATCH_MS = 200;

/** Everything an SST flow needs. */
export interface SstContext {
  args: SstArgs;
  settings: Settings;
  tools: Tools;
  adapter: ProcessAdapter;
  scope: Scope;
  protocol: ProtocolWriter;
  lock: InstanceLock;
  stopper: Stopper;
  env: (name: string) => string | undefined;
  /** The process's stdin (the donor reads mariadbd 11.8's credential lines from it). */
  stdin?: StdinSource;
  /** The name mariadbd ran us by (`wsrep_sst_rsync_tunnel_wan` changes `[sst] delta=auto`). */
  programName: ProgramName;
}

/**
 * What an entry function's protocol steps answer to, once its setup has made the values they
 * work on: the arguments, the channel they write, the stop, the cleanup. An {@link SstContext}
 * is one.
 */
export type ProtocolRun = Pick<SstContext, "args" | "protocol" | "stopper" | "scope">;

/**
 * Decides when to give up: a signal arrived, mariadbd (`--parent`) or our own parent went
 * away, or the overall deadline passed. Every wait takes {@link Stopper.signal}, which aborts
 * (its reason the matching error) as soon as one of these happens: at once for a signal, within
 * {@link WATCH_MS} for the others (a background check, which {@link Stopper.close} ends).
 * {@link Stopper.check} throws the same error synchronously.
 */
export class Stopper {
  readonly #controller = new AbortController();
  readonly #clock = new Stopwatch();
  readonly #ancestors = watchedAncestors();
  readonly #unwatch: () => void;
  constructor(
    private readonly parent: number | undefined,
    private readonly deadlineSec: number,
  ) {
    this.#unwatch = watch(() => this.pending(), WATCH_MS);
  }

  /** Aborts once the SST must stop; its reason is the error (an {@link SstError}). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Requests a stop (from a signal handler); the first reason wins. */
  stop(reason: SstError): void {
    if (!this.signal.aborted) this.#controller.abort(reason);
  }

  /** Throws if the SST must stop now. */
  check(): void {
    if (!this.signal.aborted) {
      const found = this.#found();
      if (found) this.stop(found);
    }
    if (this.signal.aborted) throw this.signal.reason;
  }

  #found(): SstError | null {
    if (this.parent !== undefined && this.parent > 1 && !isAlive(this.parent)) {
      return new AbortedError(
        ExitCode.transfer,
        `mariadbd (--parent ${this.parent}) is gone; abandoning the SST`,
      );
    }
    const gone = this.#ancestors.find((pid) => !isAlive(pid));
    if (gone !== undefined) {
      return new AbortedError(
        ExitCode.transfer,
        `our parent process ${gone} (mariadbd or its shell) is gone; abandoning the SST`,
      );
    }
    if (this.deadlineSec > 0 && this.#clock.reached(this.deadlineSec * 1000 + 1)) {
      return new TimeoutError(
        `the SST did not finish within [sst] tunnel-deadline=${this.deadlineSec} s`,
      );
    }
    return null;
  }

  /** The reason the SST must stop now (what {@link Stopper.check} would throw), or null. */
  pending(): SstError | null {
    try {
      this.check();
      return null;
    } catch (e) {
      return e as SstError;
    }
  }

  /** Sleeps `ms`, checking before; ends at once (throwing the reason) when a stop comes. */
  async pause(ms: number): Promise<void> {
    this.check();
    await sleep(ms, this.signal);
    this.check();
  }

  /** Ends the background check (the signal stays as it is). */
  close(): void {
    this.#unwatch();
  }
}
