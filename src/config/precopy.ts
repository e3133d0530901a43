/**
 * `[sst] precopy`: whether the donor copies the data set once while the server still takes
 * writes, so that the locked pass only brings the joiner's copy to the locked state.
 *
 * @module
 */
import type { OptionLookup } from "./option_lookup.ts";
import { type AutoSwitch, autoSwitchFrom } from "./auto_switch.ts";

/** The values of `[sst] precopy`. */
export type Precopy = AutoSwitch;

/**
 * With `auto`, the data set from which a hot pre-copy is made. Measured (`deno task
 * bench:stall`, README "Performance"): at 357 MiB the pre-copy cut the donor's blocked time from
 * 2.5 s to 1.3 s for 1.6 s more SST time, at 637 MiB from 3.6 s to 1.3 s, at 1 GiB from 8.4 s to
 * 1.2 s; below about 256 MiB the single locked pass is barely longer than the locked pass after a
 * pre-copy, which would only read the data set one more time.
 */
export const PRECOPY_AUTO_BYTES = 256 * 1024 ** 2;

/** Reads and validates `[sst] precopy` (default `auto`). */
export function precopyFrom(opts: OptionLookup): Precopy {
  return autoSwitchFrom(opts, "precopy");
}

/**
 * Whether to pre-copy `bytes` of data under setting `p`. With `auto`, never when every part of
 * the data set clones under the lock (`clonesAll`): the lock is then mariadbd's flush plus the
 * clones, and the clones after a pre-copy are the same hot files, so a pre-copy only adds a copy
 * to the SST (measured, docs/benchmarks.md "bench:stall under sysbench": XFS, three runs each,
 * SSTs 1.4–1.7 × longer with it and no stop shorter).
 */
export function wantsPrecopy(p: Precopy, bytes: number, clonesAll: boolean): boolean {
  switch (p) {
    case "on":
      return true;
    case "off":
      return false;
    case "auto":
      return !clonesAll && bytes >= PRECOPY_AUTO_BYTES;
  }
}
