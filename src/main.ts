/**
 * Entry point. The only module that reads `Deno.args` or calls `Deno.exit`.
 *
 * - mariadbd's calls (`--role …`) run an SST;
 * - `--check-responder` answers one connection of `check --listen` (started by its socat);
 * - `--donor-gate` checks one donor connection against `[sst] donor-names`, then runs rsync;
 * - anything else is the human-facing command line (`--help`, `check`, `certs`, `--version`).
 *
 * @module
 */
import { markInheritedCloseOnExec } from "./proc/fd_hygiene.ts";
import { denoAdapter } from "./proc/process.ts";
import { runSst } from "./sst/run.ts";
import { denoStdin } from "./sst/donor_credentials.ts";
import { isSstInvocation, runCli } from "./cli/cli.ts";
import * as log from "./core/log.ts";
import { RESPONDER_FLAG } from "./cli/check_wire.ts";
import { runCheckResponder } from "./cli/check_responder.ts";
import { DONOR_GATE_FLAG, runDonorGate } from "./tunnel/donor_gate.ts";
import { NAME_ENV, type ProgramName, resolveProgramName } from "./core/program_name.ts";

/**
 * The name we were invoked by: the installed launcher's {@link NAME_ENV} (a bundle run by the
 * Deno runtime has `deno` as its argv[0]), else argv[0] of `/proc/self/cmdline` (a compiled
 * executable run through a link).
 */
function invokedName(): ProgramName {
  let cmdline: string | undefined;
  try {
    cmdline = Deno.readTextFileSync("/proc/self/cmdline");
  } catch { /* no procfs: the main name */ }
  return resolveProgramName(Deno.env.get(NAME_ENV), cmdline);
}

async function main(argv: string[]): Promise<number> {
  // Deno opens a debugger port on SIGUSR1 unless the signal is handled; the SST mode handles
  // it itself, the CLI ignores it.
  const ignoreUsr1 = () => {};
  Deno.addSignalListener("SIGUSR1", ignoreUsr1);
  if (argv[0] === RESPONDER_FLAG) return await runCheckResponder();
  if (argv[0] === DONOR_GATE_FLAG) return await runDonorGate(argv.slice(1), denoAdapter);
  const programName = invokedName();
  if (isSstInvocation(argv)) {
    markInheritedCloseOnExec();
    return await runSst(argv, {
      adapter: denoAdapter,
      env: (n) => Deno.env.get(n),
      cpuCount: navigator.hardwareConcurrency || 1,
      stdin: denoStdin,
      programName,
    });
  }
  return await runCli(argv, denoAdapter, programName);
}

try {
  Deno.exit(await main(Deno.args));
} catch (e) {
  log.error(`internal error (a bug in wsrep_sst_rsync_tunnel; please report it): ${e}`);
  console.error(e);
  Deno.exit(255);
}
