/**
 * Option-file keys in the wrong place, as `check` reports them: an `[sst]` key this program does
 * not know (a typo: the nearest known key by edit distance), and one of our keys in a group the
 * server reads, where mariadbd 10.11 refuses to start on a key it does not know
 * (`unknown variable 'ssl-mode=VERIFY_CA'`) unless it is written with a `loose-` prefix.
 *
 * @module
 */
import type { OptionEntry } from "./option_file.ts";
import type { OptionLookup } from "./option_lookup.ts";
import { SST_KEYS } from "./sst_keys.ts";

/**
 * Our keys mariadbd 10.11 knows itself (server variables): checked with `mariadbd
 * --defaults-file=<[mysqld] key=…> --verbose --help`, which refuses every other key of
 * {@link SST_KEYS} with `unknown variable`.
 */
export const SERVER_KNOWS: ReadonlySet<string> = new Set([
  "ssl-ca",
  "ssl-capath",
  "ssl-cert",
  "ssl-key",
  "tmpdir",
]);

/** A key in the wrong place. */
export type Misplaced =
  /** In `[sst]`, not one of ours; `nearest`: the known key it is probably a typo of. */
  | { kind: "unknown"; entry: OptionEntry; nearest?: string }
  /** One of ours the server does not know, in a server group without `loose-`. */
  | { kind: "server-refuses"; entry: OptionEntry; key: string };

/** `-`/`_` folded, `loose-` dropped: the name as both readers compare it. */
function canonical(name: string): { key: string; loose: boolean } {
  const loose = /^loose[-_]/i.test(name);
  return { key: (loose ? name.slice(6) : name).replaceAll("_", "-"), loose };
}

const KNOWN: readonly string[] = SST_KEYS.map((k) => k.name);

/** Levenshtein distance (small strings). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** The known key nearest to `key` (case-insensitive), if it is near enough to be a typo. */
export function nearestKey(key: string): string | undefined {
  const lower = key.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const name of KNOWN) {
    const d = editDistance(lower, name);
    if (!best || d < best.d) best = { name, d };
  }
  const limit = Math.max(2, Math.floor(key.length / 4));
  return best && best.d <= limit ? best.name : undefined;
}

/** Every misplaced key of the option files, in file order (server groups first). */
export function misplacedKeys(opts: OptionLookup): Misplaced[] {
  const out: Misplaced[] = [];
  for (const entry of opts.entriesOf("--mysqld")) {
    const { key, loose } = canonical(entry.name);
    if (!loose && KNOWN.includes(key) && !SERVER_KNOWS.has(key)) {
      out.push({ kind: "server-refuses", entry, key });
    }
  }
  for (const entry of opts.entriesOf("sst")) {
    const { key } = canonical(entry.name);
    if (!KNOWN.includes(key)) out.push({ kind: "unknown", entry, nearest: nearestKey(key) });
  }
  return out;
}
