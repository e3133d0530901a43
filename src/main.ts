/**
 * Entry point. The only module that reads `Deno.args` or calls `Deno.exit`.
 *
 * What to run is decided once ({@link invocationOf}): an SST (mariadbd's call), a
 * `check --listen` responder, the donor gate, or the human-facing command line.
 *
 * @module
 */
import { markInheritedCloseOnExec } from "./proc/fd_hygiene.ts";
import { denoAdapter } from "./proc/process.ts";
import { runSst } from "./sst/run.ts";
import { denoStdin } from "./sst/donor_credentials.ts";
import { runCli } from "./cli/cli.ts";
import * as log from "./core/log.ts";
import { invocationOf } from "./cli/invocation.ts";
import { runCheckResponder } from "./cli/check_responder.ts";
import { runDonorGate } from "./tunnel/donor_gate.ts";
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
  const invocation = invocationOf(argv);
  switch (invocation.kind) {
    case "check-responder":
      return await runCheckResponder();
    case "donor-gate":
      return await runDonorGate(invocation.args, denoAdapter);
    case "sst":
      markInheritedCloseOnExec();
      return await runSst(invocation.args, {
        adapter: denoAdapter,
        env: (n) => Deno.env.get(n),
        cpuCount: navigator.hardwareConcurrency || 1,
        stdin: denoStdin,
        programName: invokedName(),
      });
    case "cli":
      return await runCli(invocation.args, denoAdapter, invokedName());
  }
}

try {
  Deno.exit(await main(Deno.args));
} catch (e) {
  log.error(`internal error (a bug in wsrep_sst_rsync_tunnel; please report it): ${e}`);
  console.error(e);
  Deno.exit(255);
}
