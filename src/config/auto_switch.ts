/**
 * `[sst]` keys that take `auto`, `on` or `off` (`precopy`, `delta`), with the usual spellings of
 * on and off.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import type { OptionLookup } from "./option_lookup.ts";
import { type SstKeyName, sstOrigin, sstValue } from "./sst_keys.ts";

/** The values of such a key. */
export type AutoSwitch = "auto" | "on" | "off";

/** Reads and validates `[sst] <key>` (default `auto`); names key and origin when invalid. */
export function autoSwitchFrom(opts: OptionLookup, key: SstKeyName): AutoSwitch {
  const raw = sstValue(opts, key)?.trim().toLowerCase();
  if (raw === undefined || raw === "" || raw === "auto") return "auto";
  if (["on", "1", "yes", "true"].includes(raw)) return "on";
  if (["off", "0", "no", "false"].includes(raw)) return "off";
  throw new ConfigError(
    `[sst] ${key}=${raw} (${sstOrigin(opts, key) ?? "[sst]"}) is not auto, on or off`,
  );
}
