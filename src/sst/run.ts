/**
 * One SST run as mariadbd starts it: parse, configure, check tools, take the datadir lock,
 * run the joiner or donor flow, and clean up on every path. Returns the exit status.
 *
 * @module
 */
import { programPath } from "../proc/self.ts";
import { VERSION } from "../core/version.ts";
import { parseSstArgs } from "../core/args.ts";
import { loadSettings, settingsInputOf } from "../config/settings.ts";
import { findTools } from "../proc/tools.ts";
import { type ProcessAdapter, stopAll } from "../proc/process.ts";
import { type LineSink, ProtocolWriter } from "./protocol.ts";
import { Scope } from "./scope.ts";
import { type SstContext, Stopper } from "./context.ts";
import { acquireInstanceLock, LOCK_WAIT_SEC } from "./instance_lock.ts";
import { AbortedError, ExitCode, SstError } from "../core/errors.ts";
import * as log from "../core/log.ts";
import { runJoinerWithTotals } from "./joiner.ts";
import { runDonorWithTotals } from "./donor.ts";
import type { StdinSource } from "./donor_credentials.ts";
import { stopCause } from "./stop_cause.ts";
import { MAIN_NAME, type ProgramName } from "../core/program_name.ts";

/** What a run needs from the outside world. */
export interface RunDeps {
  adapter: ProcessAdapter;
  env: (name: string) => string | undefined;
  sink?: LineSink;
  cpuCount: number;
  /** The process's stdin; the donor reads MariaDB 11.8's credential lines from a pipe there. */
  stdin?: StdinSource;
  /** The name we were invoked by (main.ts resolves it; default the main name). */
  programName?: ProgramName;
}

const SIGNALS: [Deno.Signal, number][] = [
  ["SIGTERM", ExitCode.interrupted],
  ["SIGINT", ExitCode.interrupted],
  ["SIGQUIT", ExitCode.interrupted],
  ["SIGHUP", ExitCode.transfer],
  // Deno opens a debugger port on SIGUSR1 unless the signal is handled: never let it.
  ["SIGUSR1", ExitCode.interrupted],
];

function onSignals(stopper: Stopper): () => void {
  const handlers = SIGNALS.map(([sig, code]) => {
    const h = () => {
      stopper.stop(
        new AbortedError(code as typeof ExitCode.interrupted, `received ${sig}; stopping the SST`),
      );
      void stopAll(1000);
    };
    Deno.addSignalListener(sig, h);
    return () => Deno.removeSignalListener(sig, h);
  });
  return () => handlers.forEach((remove) => remove());
}

/** Runs one SST; expected failures become their exit code, anything else propagates. */
export async function runSst(argv: readonly string[], deps: RunDeps): Promise<number> {
  const scope = new Scope();
  let removeSignals = () => {};
  let stopper: Stopper | null = null;
  try {
    const args = parseSstArgs(argv);
    log.setDebug(args.progress);
    const settings = await loadSettings(settingsInputOf(args), deps.cpuCount);
    stopper = new Stopper(
      args.role === "joiner" ? args.parent : undefined,
      settings.timeouts.deadline,
    );
    removeSignals = onSignals(stopper);
    const tools = await findTools(deps.adapter);
    const programName = deps.programName ?? MAIN_NAME;
    const as = programName === MAIN_NAME ? "" : `, as ${programName}`;
    log.info(
      `wsrep_sst_rsync_tunnel ${VERSION} ${args.role} (${programPath()}${as}): ` +
        `socat ${tools.socatVersion}, rsync ${tools.rsyncVersion}`,
    );
    const lock = await acquireInstanceLock(
      settings.layout.datadir,
      scope,
      LOCK_WAIT_SEC,
      stopper.signal,
    );
    const ctx: SstContext = {
      args,
      settings,
      tools,
      adapter: deps.adapter,
      scope,
      protocol: new ProtocolWriter(args.role, deps.sink),
      lock,
      stopper,
      env: deps.env,
      stdin: deps.stdin,
      programName,
    };
    switch (args.role) {
      case "joiner":
        await runJoinerWithTotals(ctx);
        break;
      case "donor":
        await runDonorWithTotals(ctx);
        break;
    }
    return ExitCode.ok;
  } catch (e) {
    // A stop tears things down under whatever is running: stop_cause.ts decides what to report.
    const cause = await stopCause(e, { stopped: () => stopper?.pending() ?? null });
    if (!(cause instanceof SstError)) throw cause;
    log.error(cause.message);
    return cause.exitCode;
  } finally {
    await stopAll(2000);
    for (const f of await scope.close()) log.warn(`cleanup step '${f.label}' failed: ${f.error}`);
    removeSignals();
    stopper?.close();
  }
}
