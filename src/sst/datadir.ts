/**
 * Files the joiner keeps in and around the datadir: the `sst_in_progress` marker, the
 * server's other directories (created if missing), and the binary log staging directory.
 *
 * @module
 */
import type { ServerLayout } from "../config/settings.ts";
import { BINLOG_STAGING } from "../transfer/rsyncd_config.ts";
import type { Scope } from "./scope.ts";

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
      layout.innodbLogGroupHomeDir,
      layout.innodbUndoDirectory,
      layout.ariaLogDirPath,
    ]
  ) {
    await Deno.mkdir(d, { recursive: true, mode: 0o750 });
  }
  if (!layout.binlogBase) return null;
  const binlogDir = layout.binlogBase.slice(0, layout.binlogBase.lastIndexOf("/")) || "/";
  await Deno.mkdir(binlogDir, { recursive: true, mode: 0o750 });
  const staging = `${binlogDir}/${BINLOG_STAGING}`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(staging, { mode: 0o700 });
  scope.defer(`remove ${staging}`, () => Deno.remove(staging, { recursive: true }).catch(() => {}));
  return staging;
}
