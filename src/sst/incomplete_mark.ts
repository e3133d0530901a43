/**
 * The mark an SST keeps in the joiner's datadir until it completes, so that the next SST knows
 * the datadir holds what an interrupted one left, whatever that is: written before the joiner
 * says `ready` (data may arrive from then on), removed only once a completion record was
 * accepted. An SST that dies in between (the joiner's mariadbd or our program killed, the donor
 * gone, the link cut) leaves it; the next joiner then tells the donor it holds an earlier copy
 * (`[sst] delta=auto` compares instead of resending), even when what arrived lies outside the
 * schema directories that {@link copyOf} weighs (a system tablespace cut short, tables without
 * their own file). rsync never writes or deletes it: the datadir passes touch no top-level file
 * but the engine files.
 *
 * @module
 */
import { onPath } from "../core/fs_errors.ts";

/** Its name in the datadir. */
export const INCOMPLETE_MARK = "wsrep_sst_rsync_tunnel.incomplete";

/** What the mark of `datadir` says (its one line), or null when there is none. */
export async function readIncompleteMark(datadir: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(`${datadir}/${INCOMPLETE_MARK}`)).trim();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    // Unreadable: some SST left it; it says no more.
    return "";
  }
}

/** Marks `datadir` as receiving an SST that has not completed (since `now`). */
export async function markIncomplete(datadir: string, now = new Date()): Promise<void> {
  const file = `${datadir}/${INCOMPLETE_MARK}`;
  await onPath(
    { path: datadir, doing: `create ${INCOMPLETE_MARK} in`, setting: "[mysqld] datadir" },
    () =>
      Deno.writeTextFile(
        file,
        `an SST to this datadir started at ${now.toISOString()} (pid ${Deno.pid}) and has not ` +
          "completed; the next SST compares what it left\n",
        { mode: 0o600 },
      ),
  );
}

/** Removes the mark of `datadir` (the SST completed). */
export async function clearIncompleteMark(datadir: string): Promise<void> {
  const file = `${datadir}/${INCOMPLETE_MARK}`;
  await onPath(
    { path: datadir, doing: `remove ${INCOMPLETE_MARK} from`, setting: "[mysqld] datadir" },
    () =>
      Deno.remove(file).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }),
  );
}
