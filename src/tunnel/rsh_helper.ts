/**
 * The donor's end of the tunnel. rsync runs this program as its `--rsh` command, once per
 * transfer; we start socat's TLS client on rsync's stdio. The socat arguments come from a
 * 0600 spec file in the private directory, so nothing reaches a shell and no secret reaches a
 * command line. rsync appends `<host> rsync --server --daemon .`, which we ignore.
 *
 * @module
 */
import { type ProcessAdapter } from "../proc/process.ts";
import { quoteForRsh, selfCommand } from "../proc/self.ts";
import { relaySocatStderr } from "./socat_log.ts";

/** The flag that selects helper mode in main.ts. */
export const RSH_HELPER_FLAG = "--rsh-helper";

/** What the helper runs. */
export interface ConnectSpecFile {
  socat: string;
  args: string[];
  /** Directory where a failed connection leaves its socat error text. */
  statusDir: string;
  peer: string;
}

/** The `--rsh` value for rsync. */
export function rshCommand(specFile: string): string {
  return quoteForRsh([...selfCommand(), RSH_HELPER_FLAG, specFile]);
}

/** Helper mode: runs socat for one rsync connection and returns socat's exit status. */
export async function runRshHelper(
  adapter: ProcessAdapter,
  argv: readonly string[],
): Promise<number> {
  const spec = JSON.parse(await Deno.readTextFile(argv[0])) as ConnectSpecFile;
  const child = adapter.spawn({
    cmd: spec.socat,
    args: spec.args,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "piped",
    group: false,
  });
  // rsync stops its remote shell with SIGUSR1 (Deno would open a debugger port on it if
  // unhandled); pass any stop request on to socat.
  const signals: Deno.Signal[] = ["SIGUSR1", "SIGTERM", "SIGINT", "SIGHUP"];
  const forward = () => child.kill("SIGTERM");
  for (const s of signals) Deno.addSignalListener(s, forward);
  const lines: string[] = [];
  await relaySocatStderr(child.stderr!, spec.peer, (l) => lines.push(l));
  const status = await child.status;
  for (const s of signals) Deno.removeSignalListener(s, forward);
  if (status.code !== 0 && lines.length > 0) {
    await Deno.writeTextFile(`${spec.statusDir}/socat-${Deno.pid}.err`, lines.join("\n") + "\n", {
      mode: 0o600,
    }).catch(() => {});
  }
  return status.code;
}
