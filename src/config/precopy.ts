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
 * With `auto`, the data set from which a hot pre-copy is made. Below it the single locked pass
 * is short anyway, and the pre-copy would only read the data set one more time.
 */
export const PRECOPY_AUTO_BYTES = 1024 ** 3;

/** Reads and validates `[sst] precopy` (default `auto`). */
export function precopyFrom(opts: OptionLookup): Precopy {
  return autoSwitchFrom(opts, "precopy");
}

/** Whether to pre-copy `bytes` of data under setting `p`. */
export function wantsPrecopy(p: Precopy, bytes: number): boolean {
  switch (p) {
    case "on":
      return true;
    case "off":
      return false;
    case "auto":
      return bytes >= PRECOPY_AUTO_BYTES;
  }
}
