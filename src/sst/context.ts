/**
 * What one SST run carries around: arguments, settings, tools, the process adapter, the
 * cleanup scope, the protocol writer, the instance lock, and the stop conditions (signals,
 * parent death, overall deadline) every wait checks.
 *
 * @module
 */
import type { SstArgs } from "../core/args.ts";
import type { Settings } from "../config/settings.ts";
import type { Tools } from "../proc/tools.ts";
import type { ProcessAdapter } from "../proc/process.ts";
import { sleep } from "../proc/process.ts";
import type { Scope } from "./scope.ts";
import type { ProtocolWriter } from "./protocol.ts";
import type { InstanceLock } from "./instance_lock.ts";
import type { StdinSource } from "./donor_credentials.ts";
import type { ProgramName } from "../core/program_name.ts";
import { isAlive, watchedAncestors } from "../proc/liveness.ts";
import { AbortedError, ExitCode, type SstError, TimeoutError } from "../core/errors.ts";

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
 * Decides when to give up: a signal arrived, mariadbd (`--parent`) or our own parent went
 * away, or the overall deadline passed. {@link Stopper.check} throws the matching error.
 */
export class Stopper {
  #reason: SstError | null = null;
  readonly #startedAt = Date.now();
  readonly #ancestors = watchedAncestors();
  constructor(
    private readonly parent: number | undefined,
    private readonly deadlineSec: number,
  ) {}

  /** Requests a stop (from a signal handler). */
  stop(reason: SstError): void {
    this.#reason ??= reason;
  }

  /** Throws if the SST must stop now. */
  check(): void {
    if (this.#reason) throw this.#reason;
    if (this.parent !== undefined && this.parent > 1 && !isAlive(this.parent)) {
      throw new AbortedError(
        ExitCode.transfer,
        `mariadbd (--parent ${this.parent}) is gone; abandoning the SST`,
      );
    }
    const gone = this.#ancestors.find((pid) => !isAlive(pid));
    if (gone !== undefined) {
      throw new AbortedError(
        ExitCode.transfer,
        `our parent process ${gone} (mariadbd or its shell) is gone; abandoning the SST`,
      );
    }
    if (this.deadlineSec > 0 && Date.now() - this.#startedAt > this.deadlineSec * 1000) {
      throw new TimeoutError(
        `the SST did not finish within [sst] tunnel-deadline=${this.deadlineSec} s`,
      );
    }
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

  /** Sleeps `ms`, checking before and after. */
  async pause(ms: number): Promise<void> {
    this.check();
    await sleep(ms);
    this.check();
  }
}
