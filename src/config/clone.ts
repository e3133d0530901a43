/**
 * `[sst] clone`: whether the donor clones the frozen files under the lock (copy-on-write, XFS
 * `reflink=1`, btrfs, …) and sends from the clones after `continue`, instead of sending them
 * under the lock. `auto`: where a probe clone works (src/transfer/clone_probe.ts); `on`: every
 * part must clone, else the SST is refused before `flush tables`; `off`: the locked pass.
 * `[sst] clone-floor`: the least free space clones leave on each file system (the larger of it
 * and 5 % of the file system; transfer/space_guard.ts).
 *
 * @module
 */
import type { OptionLookup } from "./option_lookup.ts";
import { type AutoSwitch, autoSwitchFrom } from "./auto_switch.ts";
import { ConfigError } from "../core/errors.ts";
import { sstOrigin, sstValue } from "./sst_keys.ts";

/** The values of `[sst] clone`. */
export type Clone = AutoSwitch;

/** Reads and validates `[sst] clone` (default `auto`). */
export function cloneFrom(opts: OptionLookup): Clone {
  return autoSwitchFrom(opts, "clone");
}

/** `[sst] clone-floor`'s default: 1 GiB. */
export const DEFAULT_CLONE_FLOOR = 1024 ** 3;

const UNIT: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Reads and validates `[sst] clone-floor` (bytes, or with a K/M/G unit; default 1G): the least
 * free space clones must leave on a file system. At least 1M.
 */
export function cloneFloorFrom(opts: OptionLookup): number {
  const raw = sstValue(opts, "clone-floor")?.trim();
  if (raw === undefined || raw === "") return DEFAULT_CLONE_FLOOR;
  const m = /^(\d+(?:\.\d+)?)([kmg]?)$/i.exec(raw);
  const bytes = m ? Math.round(Number(m[1]) * UNIT[m[2].toLowerCase()]) : NaN;
  if (!(bytes >= 1024 ** 2)) {
    throw new ConfigError(
      `[sst] clone-floor=${raw} (${sstOrigin(opts, "clone-floor") ?? "[sst]"}) must be a size ` +
        "of at least 1M, in bytes or with a unit K, M or G (e.g. 2G)",
    );
  }
  return bytes;
}
