/**
 * The donor's side of "no copy that cannot fit" (transfer/joiner_space.ts): before any
 * pre-copy and before `flush tables`, fetch the joiner's space report and add up what the
 * planned copy needs on each of the joiner's file systems. One INFO line with the figures;
 * a {@link JoinerSpaceError} (exit 28) when a file system cannot hold its part.
 *
 * @module
 */
import type { Settings } from "../config/settings.ts";
import type { JoinerCopy } from "../core/address.ts";
import * as log from "../core/log.ts";
import type { PrivateDir } from "./private_dir.ts";
import type { Tunnel } from "../transfer/rsync_runner.ts";
import { binlogJob, type RsyncJob } from "../transfer/passes.ts";
import { selectBinlogs } from "../transfer/binlogs.ts";
import type { TreeWalk } from "../transfer/selection.ts";
import {
  describeNeeds,
  fetchSpace,
  type OutgoingFile,
  SPACE_FILE,
  spaceNeeds,
  spaceShortfall,
} from "../transfer/joiner_space.ts";

/**
 * Checks that the joiner can hold `jobs` (the first plan) and the binary logs as they are now.
 * A joiner that did not say what it holds (`joiner` null: an older version) serves no report:
 * not checked, as before.
 */
export async function checkJoinerSpace(
  settings: Settings,
  t: { tunnel: Tunnel; dir: PrivateDir; walk: TreeWalk },
  jobs: readonly RsyncJob[],
  joiner: JoinerCopy | null,
): Promise<void> {
  if (joiner === null) {
    log.info("the joiner does not publish its free space (an older version): not checked");
    return;
  }
  const report = await fetchSpace(t.tunnel, `${t.dir.path}/${SPACE_FILE}`);
  if (report.error !== undefined) {
    log.info(`the joiner could not measure its free space (${report.error}): not checked`);
    return;
  }
  const logs = binlogJob(await selectBinlogs(settings.layout, settings.maxBinlogs));
  const files: OutgoingFile[] = [];
  for (const job of logs ? [...jobs, logs] : jobs) {
    for (const f of await t.walk.files(job.selection, job.sources)) {
      files.push({ module: job.module, rel: f.rel, size: f.info.size });
    }
  }
  const needs = spaceNeeds(report, files);
  if (needs === null) return;
  const short = spaceShortfall(needs);
  if (short) throw short;
  log.info(`the joiner can hold this copy: ${describeNeeds(needs)}`);
}
