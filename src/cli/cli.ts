/**
 * The human-facing command line (commander): `--help`, `--version`, `check` (local, `--peer`,
 * `--listen`) and `certs ca|node|bundle`. No arguments is a mistake: usage on stderr, exit 22.
 *
 * @module
 */
import { Command, InvalidArgumentError } from "commander";
import type { ProcessAdapter } from "../proc/process.ts";
import { ExitCode, SstError } from "../core/errors.ts";
import * as log from "../core/log.ts";
import { runCheck } from "./check.ts";
import { runCheckPeer } from "./check_peer.ts";
import { DEFAULT_LISTEN_TIMEOUT, runCheckListen } from "./check_listen.ts";
import { makeBundle, makeClusterCa, makeNodeCertificate } from "./certs.ts";
import { versionReport } from "./version_report.ts";
import { DEFAULT_PORT } from "../core/address.ts";
import { MAIN_NAME, type ProgramName } from "../core/program_name.ts";
import type { DefaultsFiles } from "../config/settings.ts";

function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return Number(raw);
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function defaultsOptions(cmd: Command): Command {
  return cmd
    .option("--defaults-file <file>", "read only this option file (as mariadbd --defaults-file)")
    .option("--defaults-extra-file <file>", "also read this option file")
    .option("--defaults-group-suffix <suffix>", "also read groups with this suffix");
}

/**
 * Runs the human-facing CLI; returns the exit status. `name`: the name we were invoked by
 * (`--version` tells what it makes of `[sst] delta=auto`).
 */
export async function runCli(
  argv: string[],
  adapter: ProcessAdapter,
  name: ProgramName = MAIN_NAME,
): Promise<number> {
  let status = 0;
  const program = new Command()
    .name("wsrep_sst_rsync_tunnel")
    .usage("[--help | --version | check … | certs …]")
    .description(
      "Encrypted rsync State Snapshot Transfer for MariaDB Galera. mariadbd runs it when " +
        "wsrep_sst_method=rsync_tunnel; run it yourself to check a node (check), the link " +
        "between two nodes (check --peer / --listen) or to make certificates (certs). " +
        "See man wsrep_sst_rsync_tunnel.",
    )
    .option("-V, --version", "print the version and the socat, rsync and openssl versions found")
    .exitOverride()
    .showHelpAfterError();
  defaultsOptions(program.command("check"))
    .description(
      "check option files, certificates, socat and rsync as an SST would; with --peer, a " +
        "mutual-TLS handshake with 'check --listen' on another node, made as a donor makes it",
    )
    .option("--datadir <dir>", "the server's datadir (default: [mysqld] datadir)")
    .option("--role <role>", "check for the joiner or donor side only (default: both)")
    .option("--peer <host[:port]>", `check the TLS link to this node (port ${DEFAULT_PORT})`)
    .option("--listen", "answer one or more 'check --peer' from other nodes, then exit")
    .option(
      "--port <n>",
      `port for --listen (default: wsrep_sst_receive_address's, else ${DEFAULT_PORT})`,
      integer(1, 65535),
    )
    .option("--once", "with --listen: exit after the first check")
    .option(
      "--timeout <seconds>",
      `--listen: give up after this long (default ${DEFAULT_LISTEN_TIMEOUT}, 0 = never); ` +
        "--peer: per connection (default [sst] tunnel-connect-timeout)",
      integer(0, 86400),
    )
    .action(async (opts) => {
      status = await dispatchCheck(opts, adapter);
    });
  const certs = program.command("certs")
    .description("make a CA, node certificates or a trust bundle with openssl")
    .usage("ca|node|bundle [options]");
  certs.command("ca")
    .description("make a cluster CA: <dir>/ca.crt and <dir>/ca.key (0600)")
    .requiredOption("--out <dir>", "directory to write to")
    .option("--name <cn>", "the CA's common name")
    .option("--days <n>", "validity in days (default 3650)")
    .action(async (opts) => {
      status = await guarded(() => makeClusterCa(opts, adapter));
    });
  certs.command("node <name>")
    .description(
      "make <dir>/<name>.key (0600) and <dir>/<name>.crt for a node: subjectAltName DNS:<name>, " +
        "the --dns and --ip entries, serverAuth and clientAuth; prints the [sst] lines",
    )
    .requiredOption("--out <dir>", "directory to write to")
    .option("--ca <dir>", "the directory 'certs ca' wrote")
    .option("--self-signed", "a self-signed certificate (trust it with 'certs bundle')")
    .option("--ip <address>", "an IP address of the node (repeatable)", collect, [])
    .option("--dns <name>", "another DNS name of the node (repeatable)", collect, [])
    .option("--days <n>", "validity in days (default 825)")
    .action(async (name, opts) => {
      status = await guarded(() => makeNodeCertificate({ ...opts, name }, adapter));
    });
  certs.command("bundle <cert...>")
    .description("concatenate self-signed node certificates into the trust file (tca)")
    .requiredOption("--out <file>", "the bundle to write")
    .action(async (files, opts) => {
      status = await guarded(() => makeBundle(opts.out, files));
    });
  certs.action(() => {
    certs.outputHelp({ error: true });
    status = ExitCode.config;
  });

  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return ExitCode.config;
  }
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    console.log(await versionReport(adapter, name));
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    const err = e as { exitCode?: number; code?: string };
    if (typeof err.exitCode !== "number") throw e;
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
    return err.exitCode === 0 ? 0 : ExitCode.config;
  }
  return status;
}

async function guarded(fn: () => Promise<void>): Promise<number> {
  try {
    await fn();
    return 0;
  } catch (e) {
    if (!(e instanceof SstError)) throw e;
    log.error(e.message);
    return e.exitCode;
  }
}

interface CheckFlags {
  defaultsFile?: string;
  defaultsExtraFile?: string;
  defaultsGroupSuffix?: string;
  datadir?: string;
  role?: string;
  peer?: string;
  listen?: boolean;
  port?: number;
  once?: boolean;
  timeout?: number;
}

function usageError(message: string): number {
  log.error(`check: ${message}; see 'wsrep_sst_rsync_tunnel check --help'`);
  return ExitCode.config;
}

async function dispatchCheck(f: CheckFlags, adapter: ProcessAdapter): Promise<number> {
  const defaults: DefaultsFiles = {
    defaultsFile: f.defaultsFile,
    defaultsExtraFile: f.defaultsExtraFile,
    defaultsGroupSuffix: f.defaultsGroupSuffix,
  };
  if (f.role !== undefined && f.role !== "joiner" && f.role !== "donor") {
    return usageError(`--role ${f.role}: use joiner or donor`);
  }
  if (f.peer !== undefined && f.listen) return usageError("--peer and --listen exclude each other");
  if ((f.peer !== undefined || f.listen) && f.role !== undefined) {
    return usageError(
      "--role applies to the local check only (--peer checks as donor, --listen as joiner)",
    );
  }
  if (!f.listen && (f.port !== undefined || f.once)) {
    return usageError("--port and --once go with --listen (give the port to --peer as host:port)");
  }
  if (f.peer !== undefined) {
    return await runCheckPeer(
      { defaults, peer: f.peer, timeoutSec: f.timeout || undefined },
      adapter,
    );
  }
  if (f.listen) {
    return await runCheckListen({
      defaults,
      port: f.port,
      once: f.once ?? false,
      timeoutSec: f.timeout ?? DEFAULT_LISTEN_TIMEOUT,
    }, adapter);
  }
  if (f.timeout !== undefined) return usageError("--timeout goes with --peer or --listen");
  return await runCheck({ defaults, datadir: f.datadir, role: f.role }, adapter);
}
