/**
 * The human-facing command line (commander): `--help`, `--version`, and `check`, which reads
 * the same option files and certificates an SST would and reports what it finds.
 *
 * @module
 */
import { Command } from "commander";
import type { ProcessAdapter } from "../proc/process.ts";
import { VERSION } from "../version.ts";
import { runCheck } from "./check.ts";

/**
 * True if argv is mariadbd's call: it starts with an option (never a command word) and
 * carries `--role` or `--address`.
 */
export function isSstInvocation(argv: readonly string[]): boolean {
  return (argv[0] ?? "").startsWith("--") &&
    argv.some((a) => /^--(role|address)(=|$)/.test(a)) &&
    !argv.includes("--help") && !argv.includes("--version");
}

/** Runs the human-facing CLI; returns the exit status. */
export async function runCli(argv: string[], adapter: ProcessAdapter): Promise<number> {
  let status = 0;
  const program = new Command()
    .name("wsrep_sst_rsync_tunnel")
    .description(
      "Encrypted rsync State Snapshot Transfer for MariaDB Galera. mariadbd runs it when " +
        "wsrep_sst_method=rsync_tunnel; run it yourself to check a node's configuration.",
    )
    .version(VERSION)
    .exitOverride();
  program.command("check")
    .description("check option files, certificates, socat and rsync as an SST would")
    .option("--defaults-file <file>", "read only this option file (as mariadbd --defaults-file)")
    .option("--defaults-extra-file <file>", "also read this option file")
    .option("--defaults-group-suffix <suffix>", "also read groups with this suffix")
    .option("--datadir <dir>", "the server's datadir", "/var/lib/mysql/")
    .option("--role <role>", "check for the joiner or donor side", "joiner")
    .action(async (opts) => {
      status = await runCheck(opts, adapter);
    });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    if (typeof code === "number") return code;
    throw e;
  }
  return status;
}
