/**
 * What the joiner's rsync daemon log tells about the transfer while the joiner waits: a full
 * disk, a push into a directory this node keeps for itself, or a data session that broke off.
 * Only sessions that proved the per-SST secret count (see `DaemonLogFollower.trusted`).
 *
 * @module
 */
import { ConfigError, ExitCode, SstError, TransferError } from "../core/errors.ts";
import type { ServerLayout } from "../config/settings.ts";
import type { DaemonEvent, DaemonLogFollower } from "../transfer/daemon_log.ts";
import { binlogDir, engineFileSets, TOP_LEVEL_EXCLUDES } from "../transfer/layout_files.ts";

/**
 * The failure `events` show, or null: a full disk first (the cause of whatever follows), then
 * a refused push, then a broken session (a timeout, code 30, is left to the idle timer, which
 * names its key).
 */
export function sessionFailure(
  events: readonly DaemonEvent[],
  daemon: Pick<DaemonLogFollower, "trusted">,
  layout: ServerLayout,
): SstError | null {
  let refused: SstError | null = null;
  let broken: SstError | null = null;
  for (const e of events) {
    if (!daemon.trusted(e.pid)) continue;
    switch (e.kind) {
      case "connect":
      case "authenticated":
        break;
      case "no-space":
        return noSpace(e.file, e.text);
      case "refused":
        refused ??= refusedPush(e.path, layout);
        break;
      case "file-error":
        broken ??= notWritten(e.text);
        break;
      case "error":
        // 30: a timeout, left to the idle timer; 24: files vanished on the donor during a
        // pre-copy (the donor decides whether that may happen).
        if (e.code !== 30 && e.code !== 24) broken ??= brokenSession(e.text);
        break;
    }
  }
  return refused ?? broken;
}

/** A file the donor sent did not arrive as sent: the copy is incomplete. */
function notWritten(text: string): TransferError {
  return new TransferError(
    `the joiner's rsync daemon could not install what the donor sent (${text}); the copy is ` +
      "incomplete, refusing it: fix the cause on this node, then restart it",
  );
}

/** The donor gives up the whole SST at its first failed rsync, so nothing more will come. */
function brokenSession(text: string): TransferError {
  return new TransferError(
    `a transfer from the donor broke off (${text}); the donor has given up this SST, see its ` +
      "error log for the cause",
  );
}

/**
 * Exit 22: our daemon refused a push into one of the directories it protects in the datadir
 * (`datadirDaemonExcludes`): the donor has a schema directory where this node keeps one of its
 * own directories. Through the tunnel the donor's rsync may still exit 0, so the joiner decides.
 */
function refusedPush(path: string, layout: ServerLayout): ConfigError {
  const top = path.split("/")[0];
  const inside = (d: string | undefined) =>
    d !== undefined &&
    (d === `${layout.datadir}/${top}` || d.startsWith(`${layout.datadir}/${top}/`));
  const owner = [
    ...engineFileSets(layout).map((s) => ({ option: s.option, dir: s.dir })),
    { option: "log_bin", dir: binlogDir(layout) },
    { option: "tmpdir", dir: layout.serverTmpdir },
  ].find((o) => inside(o.dir));
  const what = owner
    ? `its ${owner.option} directory ${owner.dir}`
    : TOP_LEVEL_EXCLUDES.includes(top)
    ? "a filesystem directory never copied"
    : "the SST's own staging directory";
  return new ConfigError(
    `the donor has a schema directory '${top}' but this node keeps ${what} at ` +
      `${layout.datadir}/${top}; move that directory out of the datadir (or rename the ` +
      "database on the cluster), then restart this node",
  );
}

/** Exit 28: the daemon could not write. */
function noSpace(file: string | null, text: string): SstError {
  return new SstError(
    ExitCode.noSpace,
    `the joiner ran out of disk space${file ? ` writing ${file}` : ""} (${text}); free space ` +
      "or grow the filesystem of the datadir, then restart the node",
  );
}
