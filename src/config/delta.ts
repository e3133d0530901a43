/**
 * `[sst] delta`: whether the donor's rsync sends only the blocks that differ from the joiner's
 * existing files (delta transfer, `--no-whole-file`) or whole files. A joiner that still holds an
 * older copy (down too long for IST, or a retry after an interrupted SST) then receives only what
 * changed; on a fast link with an empty joiner, whole files are quicker (no block checksums to
 * compute on both sides).
 *
 * `auto` follows the name mariadbd ran: `wsrep_sst_rsync_tunnel_wan` (`wsrep_sst_method =
 * rsync_tunnel_wan`, as MariaDB's `rsync_wan`) means delta transfer, `wsrep_sst_rsync_tunnel`
 * whole files. The locked pass after a hot pre-copy is a delta pass whatever this says.
 *
 * @module
 */
import { type ProgramName, WAN_NAME } from "../core/program_name.ts";
import type { OptionLookup } from "./option_lookup.ts";
import { type AutoSwitch, autoSwitchFrom } from "./auto_switch.ts";

/** The values of `[sst] delta`. */
export type Delta = AutoSwitch;

/** Reads and validates `[sst] delta` (default `auto`). */
export function deltaFrom(opts: OptionLookup): Delta {
  return autoSwitchFrom(opts, "delta");
}

/** What the donor does, and why (for its log). */
export interface DeltaChoice {
  /** Every pass compares against the joiner's files and sends only differing blocks. */
  on: boolean;
  /** The setting and, for `auto`, the name that decided. */
  why: string;
}

/** Resolves setting `d` for a program invoked as `name`. */
export function chooseDelta(d: Delta, name: ProgramName): DeltaChoice {
  if (d !== "auto") return { on: d === "on", why: `[sst] delta=${d}` };
  return { on: name === WAN_NAME, why: `[sst] delta=auto, invoked as ${name}` };
}
