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

/** Name of the informational marker (the stock scripts use the same). */
export const IN_PROGRESS = "sst_in_progress";

/** Creates `<datadir>/sst_in_progress` and registers its removal. */
export async function markSstInProgress(datadir: string, scope: Scope): Promise<void> {
  const file = `${datadir}/${IN_PROGRESS}`;
  await Deno.writeTextFile(file, `${Deno.pid}\n`, { mode: 0o600 });
  scope.defer(`remove ${file}`, () => Deno.remove(file).catch(() => {}));
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
  for (
    const d of [
      layout.datadir,
      layout.innodbDataHomeDir,
      systemTablespaceDir(layout),
      layout.innodbLogGroupHomeDir,
      layout.innodbUndoDirectory,
      layout.ariaLogDirPath,
    ]
  ) {
    await Deno.mkdir(d, { recursive: true, mode: 0o750 });
  }
  if (!layout.binlogBase) return null;
  const dir = binlogDir(layout)!;
  await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
  const staging = `${dir}/${BINLOG_STAGING}`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(staging, { mode: 0o700 });
  scope.defer(`remove ${staging}`, () => Deno.remove(staging, { recursive: true }).catch(() => {}));
  return staging;
}

/**
 * Warns about engine files in the datadir that this configuration keeps elsewhere (left from
 * an earlier layout). The SST neither wrote nor deleted them (as the stock script, which
 * leaves stale top-level files too) and the server does not read them.
 */
export async function warnStrayEngineFiles(layout: ServerLayout): Promise<void> {
  const strays = await strayEngineFiles(layout);
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
  for await (const e of Deno.readDir(layout.datadir)) {
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
