/**
 * The pure parts of `bench:locked-split` (scripts/bench/locked_split.ts): which pages of its
 * synthetic table files the "donor" rewrites (deterministic from a seed, so every run and
 * every rerun of the benchmark changes the same pages), and how `perf report` samples are
 * grouped into what the CPU did.
 *
 * @module
 */

/** InnoDB's default page, and our delta pass's block (src/transfer/passes.ts). */
export const PAGE = 16384;

/** A seeded 32-bit generator (mulberry32): the same seed gives the same sequence. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * `round(pages × share)` distinct page numbers in `[0, pages)`, ascending, chosen uniformly at
 * random from `seed` (a partial Fisher–Yates shuffle): the pages a donor rewrote.
 */
export function changedPages(pages: number, share: number, seed: number): number[] {
  if (!Number.isInteger(pages) || pages < 0) throw new Error(`pages ${pages}: not a count`);
  if (!(share >= 0 && share <= 1)) throw new Error(`share ${share}: not between 0 and 1`);
  const k = Math.round(pages * share);
  const all = new Uint32Array(pages);
  for (let i = 0; i < pages; i++) all[i] = i;
  const next = seeded(seed);
  for (let i = 0; i < k; i++) {
    const j = i + (next() % (pages - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return Array.from(all.subarray(0, k)).sort((a, b) => a - b);
}

/** `--changed 5` (percent of the pages, more than 0 and less than 100) → 0.05. */
export function parseChangedShare(s: string): number {
  const n = Number(s.replace(/%$/, ""));
  if (!Number.isFinite(n) || n <= 0 || n >= 100) {
    throw new Error(`--changed '${s}': a percentage above 0 and below 100, e.g. 5`);
  }
  return n / 100;
}

/** What a CPU sample was doing, by the code (`perf report --sort comm,dso`) it was in. */
export type CpuPart =
  | "rsync's own code (rolling checksum, block search, protocol)"
  | "strong checksums (libxxhash)"
  | "libcrypto in rsync (MD4/MD5)"
  | "kernel, rsync (reading, writing, pipes/sockets)"
  | "libc and loader, rsync (memcpy, malloc)"
  | "TLS (socat: libssl, libcrypto)"
  | "kernel, socat (sockets)"
  | "socat's own code and libc";

/** The part a sample of `comm` in `dso` belongs to, or null (another program). */
export function cpuPart(comm: string, dso: string): CpuPart | null {
  if (comm === "rsync") {
    if (dso === "rsync") return "rsync's own code (rolling checksum, block search, protocol)";
    if (dso.startsWith("libxxhash")) return "strong checksums (libxxhash)";
    if (dso.startsWith("libcrypto")) return "libcrypto in rsync (MD4/MD5)";
    if (dso.startsWith("[kernel")) return "kernel, rsync (reading, writing, pipes/sockets)";
    return "libc and loader, rsync (memcpy, malloc)";
  }
  if (comm === "socat") {
    if (dso.startsWith("libssl") || dso.startsWith("libcrypto")) {
      return "TLS (socat: libssl, libcrypto)";
    }
    if (dso.startsWith("[kernel")) return "kernel, socat (sockets)";
    return "socat's own code and libc";
  }
  return null;
}

/**
 * Samples by {@link CpuPart} from `perf report --stdio -n --sort comm,dso` output (lines
 * `  12.34%  567  rsync  libxxhash.so.0.8.1`); other programs' samples are left out.
 */
export function cpuParts(report: string): Map<CpuPart, number> {
  const out = new Map<CpuPart, number>();
  for (const line of report.split("\n")) {
    const m = /^\s*[\d.]+%\s+(\d+)\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (!m) continue;
    const part = cpuPart(m[2], m[3]);
    if (part) out.set(part, (out.get(part) ?? 0) + Number(m[1]));
  }
  return out;
}
