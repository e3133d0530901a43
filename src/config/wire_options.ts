/**
 * Opt-in `[sst]` keys for slow links: compression on the wire (`compress`, `compress-level`:
 * rsync's `--compress-choice` / `--compress-level`, inside the TLS tunnel) and a cap on the
 * bandwidth of the whole transfer (`bwlimit`: with a cap, one rsync runs at a time and gets all
 * of it, since rsync cannot change a running stream's `--bwlimit`). Both
 * are off by default: on a fast link compression costs more CPU than it saves time, and
 * InnoDB pages that are already compressed or encrypted do not shrink.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import type { OptionLookup } from "./option_lookup.ts";
import { type SstKeyName, sstOrigin, sstValue } from "./sst_keys.ts";

/** Compression algorithms we let rsync negotiate (both ends need rsync ≥ 3.2 built with it). */
export const COMPRESSORS = ["zstd", "lz4"] as const;
/** One of {@link COMPRESSORS}. */
export type Compressor = typeof COMPRESSORS[number];

/** Wire settings of the donor's data passes. */
export interface WireSettings {
  /** Compression algorithm, or null (off). */
  compress: Compressor | null;
  /** zstd level (1–19), when set. */
  compressLevel?: number;
  /** Cap of the whole transfer in KiB/s; 0 = none. */
  bwlimitKiB: number;
}

/** The defaults: no compression, no cap. */
export const NO_WIRE_OPTIONS: WireSettings = { compress: null, bwlimitKiB: 0 };

const UNIT_KIB: Record<string, number> = { "": 1, k: 1, m: 1024, g: 1024 * 1024 };

/** Reads and validates `[sst] compress`, `compress-level` and `bwlimit`. */
export function wireFrom(opts: OptionLookup): WireSettings {
  const where = (key: SstKeyName) => sstOrigin(opts, key) ?? "[sst]";
  const raw = sstValue(opts, "compress")?.trim().toLowerCase();
  let compress: Compressor | null = null;
  if (raw !== undefined && !["", "off", "no", "none", "0"].includes(raw)) {
    if (!(COMPRESSORS as readonly string[]).includes(raw)) {
      throw new ConfigError(
        `[sst] compress=${raw} (${where("compress")}) is not supported; use zstd (level 1–19 ` +
          "with compress-level), lz4, or off",
      );
    }
    compress = raw as Compressor;
  }
  const levelRaw = sstValue(opts, "compress-level")?.trim();
  let compressLevel: number | undefined;
  if (levelRaw !== undefined && levelRaw !== "") {
    if (compress !== "zstd") {
      throw new ConfigError(
        `[sst] compress-level=${levelRaw} (${where("compress-level")}) needs compress=zstd ` +
          `(${compress ?? "compression is off"}${compress ? " has no levels" : ""}); remove it ` +
          "or set compress=zstd",
      );
    }
    if (!/^\d+$/.test(levelRaw) || Number(levelRaw) < 1 || Number(levelRaw) > 19) {
      throw new ConfigError(
        `[sst] compress-level=${levelRaw} (${where("compress-level")}) must be an integer from ` +
          "1 (fastest) to 19 (smallest); 1–3 suit links of 100 Mbit/s and more",
      );
    }
    compressLevel = Number(levelRaw);
  }
  const bw = sstValue(opts, "bwlimit")?.trim();
  let bwlimitKiB = 0;
  if (bw !== undefined && bw !== "") {
    const m = /^(\d+(?:\.\d+)?)([kmg]?)$/i.exec(bw);
    if (!m) {
      throw new ConfigError(
        `[sst] bwlimit=${bw} (${where("bwlimit")}) must be a rate in KiB/s with an optional ` +
          "unit K, M or G per second (e.g. 50M = 50 MiB/s), or 0 for no cap",
      );
    }
    bwlimitKiB = Math.round(Number(m[1]) * UNIT_KIB[m[2].toLowerCase()]);
    if (bwlimitKiB === 0 && Number(m[1]) !== 0) {
      throw new ConfigError(
        `[sst] bwlimit=${bw} (${where("bwlimit")}) is below 1 KiB/s; use at least 1K, or 0 ` +
          "for no cap",
      );
    }
  }
  return { compress, compressLevel, bwlimitKiB };
}

/**
 * The rsync options of every rsync of a data pass. The cap is the whole of `bwlimit`: with a
 * cap the donor runs one rsync at a time ({@link isCapped}), so the one running is the total.
 */
export function rsyncWireOptions(w: WireSettings): string[] {
  const out: string[] = [];
  if (w.compress) {
    out.push("--compress", `--compress-choice=${w.compress}`);
    if (w.compressLevel !== undefined) out.push(`--compress-level=${w.compressLevel}`);
  }
  if (isCapped(w)) out.push(`--bwlimit=${w.bwlimitKiB}`);
  return out;
}

/**
 * Whether `bwlimit` caps the transfer: then the passes run one rsync at a time instead of
 * `backup-threads` streams beside the short lane. rsync fixes a stream's rate when it starts,
 * so a cap split between streams would leave the share of every stream that ended unused
 * (a pass whose last large file keeps one stream busy would run at a fraction of the cap);
 * on a link slow enough to cap, parallel streams gain nothing.
 */
export function isCapped(w: WireSettings): boolean {
  return w.bwlimitKiB > 0;
}

/** A short description for the log, or null when neither is set. */
export function describeWire(w: WireSettings): string | null {
  const parts: string[] = [];
  if (w.compress) {
    parts.push(
      `compression ${w.compress}${
        w.compressLevel !== undefined ? ` level ${w.compressLevel}` : ""
      }`,
    );
  }
  if (w.bwlimitKiB > 0) parts.push(`bandwidth cap ${(w.bwlimitKiB / 1024).toFixed(1)} MiB/s`);
  return parts.length > 0 ? parts.join(", ") : null;
}

/**
 * The algorithms `rsync --version` lists under "Compress list:", or null if it has no such
 * section (rsync before 3.2: no `--compress-choice`).
 */
export function parseCompressList(versionText: string): string[] | null {
  const m = /Compress list:\s*\n\s*([^\n]*)/.exec(versionText);
  return m ? m[1].trim().split(/\s+/) : null;
}
