/**
 * `wsrep_sst_rsync_tunnel check`: the pre-flight an operator runs before trusting a node to
 * SST. Uses exactly the code an SST uses: option files, tools, certificates.
 *
 * @module
 */
import type { ProcessAdapter } from "../proc/process.ts";
import { parseSstArgs } from "../core/args.ts";
import { loadSettings } from "../config/settings.ts";
import { findTools } from "../proc/tools.ts";
import { checkTls } from "../tunnel/tls_setup.ts";
import { SstError } from "../core/errors.ts";
import * as log from "../core/log.ts";
import { systemTablespaceDir, systemTablespaceOf } from "../transfer/layout_files.ts";

/** Options of the check subcommand. */
export interface CheckOptions {
  defaultsFile?: string;
  defaultsExtraFile?: string;
  defaultsGroupSuffix?: string;
  datadir: string;
  role: string;
}

/** Runs the checks; prints findings to stderr; returns 0 or the SST's exit code. */
export async function runCheck(opts: CheckOptions, adapter: ProcessAdapter): Promise<number> {
  const argv = ["--role", opts.role, "--address", "localhost", "--datadir", opts.datadir];
  if (opts.defaultsFile) argv.push("--defaults-file", opts.defaultsFile);
  if (opts.defaultsExtraFile) argv.push("--defaults-extra-file", opts.defaultsExtraFile);
  if (opts.defaultsGroupSuffix) argv.push("--defaults-group-suffix", opts.defaultsGroupSuffix);
  try {
    const args = parseSstArgs(argv);
    const settings = await loadSettings(args, navigator.hardwareConcurrency || 1);
    const tools = await findTools(adapter);
    log.info(
      `socat ${tools.socatVersion} (${tools.socat}) with OpenSSL; rsync ${tools.rsyncVersion}`,
    );
    await checkTls(settings, args.role, adapter);
    const l = settings.layout;
    // A joiner receives its system tablespace into one directory: refuse a spread one here too.
    if (args.role === "joiner") systemTablespaceDir(l);
    log.info(
      `layout: datadir ${l.datadir}, data home ${l.innodbDataHomeDir}, system tablespace ` +
        `${systemTablespaceOf(l).files.join(";")}, redo ${l.innodbLogGroupHomeDir}, ` +
        `undo ${l.innodbUndoDirectory}, aria ${l.ariaLogDirPath}, binlog ${l.binlogBase ?? "off"}`,
    );
    log.info("configuration OK");
    return 0;
  } catch (e) {
    if (!(e instanceof SstError)) throw e;
    log.error(e.message);
    return e.exitCode;
  }
}
