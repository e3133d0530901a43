/**
 * The joiner's side of two questions the donor settles before it locks anything: does this
 * node hold an earlier copy (said in the `ready` address, for `[sst] delta=auto`), and can it
 * hold the new one (the space report its daemon serves read-only: transfer/joiner_space.ts).
 * Until the SST completes, the datadir carries its mark (incomplete_mark.ts).
 *
 * @module
 */
import type { SstContext } from "./context.ts";
import type { JoinerCopy } from "../core/address.ts";
import * as log from "../core/log.ts";
import { onPath } from "../core/fs_errors.ts";
import { diskFree } from "../proc/disk_free.ts";
import {
  clearIncompleteMark,
  INCOMPLETE_MARK,
  markIncomplete,
  readIncompleteMark,
} from "./incomplete_mark.ts";
import { copyOf, describeHoldings, heldFiles, holdingsChanged } from "../transfer/held_files.ts";
import { Modules } from "../transfer/rsyncd_config.ts";
import { type ModuleDir, renderSpace, SPACE_FILE, spaceReport } from "../transfer/joiner_space.ts";

/**
 * Lists what this node holds where the SST writes, logs it in one line, writes the space report
 * into `spaceDir` (0600) and returns what to tell the donor. `binlogDir` is where the binary
 * logs arrive (the staging directory).
 */
export async function publishHoldings(
  ctx: SstContext,
  spaceDir: string,
  binlogDir: string,
): Promise<JoinerCopy> {
  const layout = ctx.settings.layout;
  const incomplete = await readIncompleteMark(layout.datadir);
  const held = await heldFiles(layout);
  const copy = copyOf(held, incomplete);
  log.info(describeHoldings(held, copy, incomplete));
  // Data may arrive once the donor reads `ready`: until this SST completes (the joiner then
  // clears the mark), the datadir holds what an interrupted SST left. An SST that ends before
  // anything arrived leaves the datadir as it found it.
  await markIncomplete(layout.datadir);
  ctx.scope.defer(`remove ${INCOMPLETE_MARK} unless data arrived`, async () => {
    if (incomplete !== null) return;
    if (!holdingsChanged(held, await heldFiles(layout))) await clearIncompleteMark(layout.datadir);
  });
  const dirs: ModuleDir[] = [
    { module: Modules.datadir, dir: layout.datadir, option: "datadir" },
    { module: Modules.dataHome, dir: layout.innodbDataHomeDir, option: "innodb_data_home_dir" },
    {
      module: Modules.logDir,
      dir: layout.innodbLogGroupHomeDir,
      option: "innodb_log_group_home_dir",
    },
    { module: Modules.undoDir, dir: layout.innodbUndoDirectory, option: "innodb_undo_directory" },
    { module: Modules.ariaDir, dir: layout.ariaLogDirPath, option: "aria_log_dir_path" },
    { module: Modules.binlogs, dir: binlogDir, option: "log_bin" },
  ];
  const free = await diskFree(ctx.adapter, dirs.map((d) => d.dir), ctx.stopper.signal);
  if ("error" in free) {
    log.warn(`cannot tell the donor this node's free space (${free.error}); it will not check it`);
  }
  const file = `${spaceDir}/${SPACE_FILE}`;
  await onPath(
    { path: file, doing: "write the space report", setting: "[sst] tmpdir" },
    () =>
      Deno.writeTextFile(file, renderSpace(spaceReport(dirs, free, held.files)), { mode: 0o600 }),
  );
  return copy;
}
