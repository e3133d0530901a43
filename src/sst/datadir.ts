/**
 * Files the joiner keeps in and around the datadir: the `sst_in_progress` marker, the
 * server's other directories (created if missing), and the binary log staging directory.
 *
 * @module
 */
import type { ServerLayout } from "../config/settings.ts";
import {
  BINLOG_STAGING,
  binlogDir,
  strayEngineFiles,
  systemTablespaceDir,
} from "../transfer/layout_files.ts";
import type { Scope } from "./scope.ts";
import * as log from "../core/log.ts";
import { onPath } from "../core/fs_errors.ts";
import { ExitCode, SstError } from "../core/errors.ts";
import { staleServerState } from "../transfer/top_level_state.ts";

/** Name of the informational marker (the stock scripts use the same). */
export const IN_PROGRESS = "sst_in_progress";

/** Creates `<datadir>/sst_in_progress` and registers its removal. */
export async function markSstInProgress(datadir: string, scope: Scope): Promise<void> {
  const file = `${datadir}/${IN_PROGRESS}`;
  // Registered first: a write that fails on a full disk leaves the file created.
  scope.defer(`remove ${file}`, () => Deno.remove(file).catch(() => {}));
  await onPath(
    { path: datadir, doing: `create ${IN_PROGRESS} in`, setting: "[mysqld] datadir" },
    () => Deno.writeTextFile(file, `${Deno.pid}\n`, { mode: 0o600 }),
  );
}

/**
 * Creates the InnoDB, Aria and binlog directories if missing, and an empty private staging
 * directory for binary logs (removed at the end). Returns the staging path, or null when
 * binary logging is off.
 */
export async function prepareDirectories(
  layout: ServerLayout,
  scope: Scope,
): Promise<string | null> {
  const dirs: [string, string][] = [
    [layout.datadir, "datadir"],
    [layout.innodbDataHomeDir, "innodb_data_home_dir"],
    [systemTablespaceDir(layout), "innodb_data_file_path"],
    [layout.innodbLogGroupHomeDir, "innodb_log_group_home_dir"],
    [layout.innodbUndoDirectory, "innodb_undo_directory"],
    [layout.ariaLogDirPath, "aria_log_dir_path"],
  ];
  for (const [d, option] of dirs) await makeServerDir(d, `[mysqld] ${option}`);
  if (!layout.binlogBase) return null;
  const dir = binlogDir(layout)!;
  await makeServerDir(dir, "[mysqld] log_bin");
  const staging = `${dir}/${BINLOG_STAGING}`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await onPath(
    {
      path: staging,
      doing: "create the binary log staging directory",
      setting: "[mysqld] log_bin",
    },
    () => Deno.mkdir(staging, { mode: 0o700 }),
  );
  scope.defer(`remove ${staging}`, () => Deno.remove(staging, { recursive: true }).catch(() => {}));
  return staging;
}

/** Creates one of the server's directories (and its parents) if missing. */
function makeServerDir(dir: string, setting: string): Promise<void> {
  return onPath(
    { path: dir, doing: "create the server directory", setting },
    () => Deno.mkdir(dir, { recursive: true, mode: 0o750 }),
  );
}

/**
 * Warns about engine files in the datadir that this configuration keeps elsewhere (left from
 * an earlier layout). The SST neither wrote nor deleted them (as the stock script, which
 * leaves stale top-level files too) and the server does not read them.
 */
export async function warnStrayEngineFiles(layout: ServerLayout): Promise<void> {
  const strays = await onPath(
    { path: layout.datadir, doing: "list", access: "read", setting: "[mysqld] datadir" },
    () => strayEngineFiles(layout),
  );
  for (const opt of new Set(strays.map((s) => s.set.option))) {
    const mine = strays.filter((s) => s.set.option === opt);
    log.warn(
      `${layout.datadir} holds ${mine.map((s) => s.file).join(", ")}, left from an earlier ` +
        `layout: this server keeps them in ${opt}=${mine[0].set.dir} and does not read these ` +
        "copies; remove them when you no longer need them",
    );
  }
}

/**
 * Warns about the datadir's links to directories (a schema directory on another disk): rsync
 * does not write through a link (3.4+ daemons refuse to), so the SST replaces each link that
 * stands where the donor has a schema directory with a real directory holding the donor's copy.
 */
export async function warnLinkedDirs(layout: ServerLayout): Promise<void> {
  const entries = await onPath(
    { path: layout.datadir, doing: "list", access: "read", setting: "[mysqld] datadir" },
    () => Array.fromAsync(Deno.readDir(layout.datadir)),
  );
  for (const e of entries) {
    if (!e.isSymlink) continue;
    const path = `${layout.datadir}/${e.name}`;
    if (!(await Deno.stat(path).catch(() => null))?.isDirectory) continue;
    const target = await Deno.readLink(path).catch(() => "?");
    log.warn(
      `${path} is a link to ${target}: if the donor has a schema directory '${e.name}', the SST ` +
        `replaces the link with a directory in ${layout.datadir}; move it to the other disk and ` +
        "link it again after the SST if you want it there",
    );
  }
}

/**
 * Removes the joiner's server state about its old data set (`ddl_recovery.log`, `tc.log`,
 * replica coordinates, …: see `TOP_LEVEL_FILES`) and logs one INFO line naming what went.
 *
 * Only after a full SST whose completion record arrived and was checked, once every transfer
 * has ended (the listener is stopped: nothing writes into the datadir any more) and before the
 * final line lets mariadbd start. Never on IST (the node keeps its own data, so its logs still
 * describe it) nor on a failed or refused SST: there the datadir may still be the node's own,
 * consistent with these files, and the DBA needs them as they were.
 *
 * A file that cannot be removed fails the SST (exit 13 or 5): the server must not start with it.
 */
export async function removeStaleServerState(layout: ServerLayout): Promise<void> {
  const removed: string[] = [];
  for (const f of await staleServerState(layout)) {
    try {
      await Deno.remove(f.path);
      removed.push(f.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      const denied = e instanceof Deno.errors.PermissionDenied;
      throw new SstError(
        denied ? ExitCode.access : ExitCode.io,
        `cannot remove ${f.path} (${f.entry.what}), left from before the SST: ${
          e instanceof Error ? e.message : String(e)
        }; the server must not start with it: remove it ${
          denied ? `(or let uid ${Deno.uid()}, which runs this SST, write ${dirOf(f.path)}) ` : ""
        }and restart the node`,
        { cause: e },
      );
    }
  }
  if (removed.length === 0) return;
  log.info(
    `removed ${removed.length} file(s) of this node's server state from before the SST ` +
      `(they describe the old data set): ${removed.join(", ")}`,
  );
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}
