/**
 * `[sst] delta`: whether the donor's rsync sends only the blocks that differ from the joiner's
 * existing files (delta transfer, `--no-whole-file`) or whole files. A joiner that still holds an
 * older copy (down too long for IST, or a retry after an interrupted SST) then receives only what
 * changed; on a fast link with an empty joiner, whole files are quicker (no block checksums to
 * compute on both sides).
 *
 * `auto` follows what the joiner holds, as it says in its `ready` address (core/address.ts
 * `JoinerCopy`): delta transfer onto an earlier copy (an old datadir, or what an interrupted SST
 * left), whole files into an empty or freshly installed datadir. Run as
 * `wsrep_sst_rsync_tunnel_wan` (`wsrep_sst_method = rsync_tunnel_wan`, as MariaDB's
 * `rsync_wan`) it always means delta transfer; with a joiner that does not say what it holds (an
 * older version) `wsrep_sst_rsync_tunnel` means whole files, as before. The locked pass after a
 * hot pre-copy is a delta pass whatever this says.
 *
 * @module
 */
import { type ProgramName, WAN_NAME } from "../core/program_name.ts";
import type { JoinerCopy } from "../core/address.ts";
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
  /** The setting and, for `auto`, what decided: the name, or what the joiner holds. */
  why: string;
}

/**
 * Resolves setting `d` for a program invoked as `name`, sending to a joiner that holds `joiner`
 * (null: it did not say).
 */
export function chooseDelta(
  d: Delta,
  name: ProgramName,
  joiner: JoinerCopy | null = null,
): DeltaChoice {
  if (d !== "auto") return { on: d === "on", why: `[sst] delta=${d}` };
  if (name === WAN_NAME || joiner === null) {
    const unsaid = name === WAN_NAME ? "" : "; the joiner did not say what it holds";
    return { on: name === WAN_NAME, why: `[sst] delta=auto, invoked as ${name}${unsaid}` };
  }
  switch (joiner.kind) {
    case "copy":
      return {
        on: true,
        why: `[sst] delta=auto: the joiner holds an earlier copy, ${joiner.mib} MiB`,
      };
    case "none":
      return { on: false, why: "[sst] delta=auto: the joiner holds no earlier copy" };
  }
}
