/**
 * The joiner's rsync daemon configuration. The daemon never listens: socat starts one
 * `rsync --server --daemon` per TLS connection with this file. Every connection must also
 * authenticate with the per-SST secret (`auth users`, 0600 secrets file).
 *
 * @module
 */
import { MODULE } from "../core/address.ts";
import { ConfigError } from "../core/errors.ts";
import type { ServerLayout } from "../config/settings.ts";
import { systemTablespaceDir } from "./layout_files.ts";

/** The rsync user every donor connection authenticates as. */
export const RSYNC_USER = "sst";

/** Module names, one per destination directory. */
export const Modules = {
  datadir: MODULE,
  dataHome: `${MODULE}-data_dir`,
  logDir: `${MODULE}-log_dir`,
  undoDir: `${MODULE}-undo_dir`,
  ariaDir: `${MODULE}-aria_log`,
  binlogs: `${MODULE}-binlogs`,
  complete: `${MODULE}-complete`,
  /** Read-only: the joiner's free space and holdings, fetched by the donor (joiner_space.ts). */
  space: `${MODULE}-space`,
} as const;

export { BINLOG_STAGING } from "./layout_files.ts";

/** Where each module writes on the joiner. */
export interface ModulePaths {
  layout: ServerLayout;
  /** Staging directory for incoming binary logs (private). */
  binlogStaging: string;
  /** Private directory that receives the completion record. */
  completionDir: string;
  /** Private directory holding the joiner's space report, served read-only. */
  spaceDir: string;
  /**
   * Private file with the datadir module's daemon-side excludes (`datadirDaemonExcludes`):
   * the joiner's own special directories, never deleted nor written by the datadir passes.
   */
  datadirExcludeFile: string;
}

/** Rejects values that would break the line-oriented rsyncd.conf format. */
export function rsyncConfSafe(what: string, value: string): string {
  if (/[\r\n\0]/.test(value) || value !== value.trim() || value === "") {
    throw new ConfigError(
      `${what} '${JSON.stringify(value).slice(1, -1)}' has a newline or leading/trailing ` +
        "whitespace and cannot be used in an rsync configuration",
    );
  }
  return value;
}

function moduleSection(name: string, path: string, extra: string[] = []): string[] {
  return [`[${name}]`, `path = ${rsyncConfSafe(`directory for ${name}`, path)}`, ...extra];
}

/** Renders rsyncd.conf for the joiner. */
export function renderRsyncdConf(
  p: ModulePaths,
  secretsFile: string,
  logFile: string,
  timeoutSec: number,
): string {
  const l = p.layout;
  const global = [
    "use chroot = no",
    "read only = no",
    "write only = yes",
    "list = no",
    // As root, rsync's daemon would drop to "nobody"; as anyone else it must not try to
    // switch (setgroups fails), so uid/gid are only written for root.
    ...(Deno.uid() === 0 ? ["uid = 0", "gid = 0"] : []),
    "munge symlinks = no",
    `timeout = ${timeoutSec}`,
    `auth users = ${RSYNC_USER}`,
    "strict modes = yes",
    `secrets file = ${rsyncConfSafe("secrets file", secretsFile)}`,
    `log file = ${rsyncConfSafe("log file", logFile)}`,
    "transfer logging = no",
  ];
  const sections = [
    moduleSection(Modules.datadir, l.datadir, [
      `exclude from = ${rsyncConfSafe("exclude file", p.datadirExcludeFile)}`,
    ]),
    moduleSection(Modules.dataHome, systemTablespaceDir(l)),
    moduleSection(Modules.logDir, l.innodbLogGroupHomeDir),
    moduleSection(Modules.undoDir, l.innodbUndoDirectory),
    moduleSection(Modules.ariaDir, l.ariaLogDirPath),
    moduleSection(Modules.binlogs, p.binlogStaging),
    moduleSection(Modules.complete, p.completionDir),
    moduleSection(Modules.space, p.spaceDir, ["read only = yes", "write only = no"]),
  ];
  return [...global, "", ...sections.map((s) => s.join("\n"))].join("\n") + "\n";
}

/** Renders the secrets file (`user:secret`). */
export function renderSecrets(secret: string): string {
  return `${RSYNC_USER}:${secret}\n`;
}
