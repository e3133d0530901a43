/**
 * `[sst] clone`: whether the donor clones the frozen files under the lock (copy-on-write, XFS
 * `reflink=1`, btrfs, …) and sends from the clones after `continue`, instead of sending them
 * under the lock. `auto`: where a probe clone works (src/transfer/clone_probe.ts); `on`: every
 * part must clone, else the SST is refused before `flush tables`; `off`: the locked pass.
 *
 * @module
 */
import type { OptionLookup } from "./option_lookup.ts";
import { type AutoSwitch, autoSwitchFrom } from "./auto_switch.ts";

/** The values of `[sst] clone`. */
export type Clone = AutoSwitch;

/** Reads and validates `[sst] clone` (default `auto`). */
export function cloneFrom(opts: OptionLookup): Clone {
  return autoSwitchFrom(opts, "clone");
}
