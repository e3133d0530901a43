/**
 * Free space of the file systems that hold some directories, as `df` reports it (coreutils:
 * `--output=avail,target`, in bytes): the bytes an unprivileged writer may still use, and the
 * mount point, which names the file system in messages and tells which directories share one.
 *
 * @module
 */
import { type ProcessAdapter, run } from "./process.ts";

/** The file system holding a directory. */
export interface DiskFree {
  /** The directory asked about. */
  dir: string;
  /** Its file system's mount point. */
  mount: string;
  /** Bytes available there to unprivileged writers. */
  free: number;
}

/**
 * The file system of each of `dirs` (in order), or why `df` could not tell: its one-line error
 * (a directory missing, a hung network file system after 10 s).
 */
export async function diskFree(
  adapter: ProcessAdapter,
  dirs: readonly string[],
  signal?: AbortSignal,
): Promise<DiskFree[] | { error: string }> {
  const r = await run(adapter, {
    cmd: "df",
    args: ["--output=avail,target", "-B1", "--", ...dirs],
    env: { LC_ALL: "C" },
  }, { timeoutMs: 10_000, signal });
  if (r.timedOut) return { error: "df did not answer within 10 s" };
  const parsed = r.code === 0 ? parseDf(r.stdout, dirs) : null;
  if (parsed) return parsed;
  const why = r.stderr.trim().split("\n")[0] || `exit ${r.code}`;
  return { error: `df ${dirs.join(" ")}: ${why}` };
}

/** `df --output=avail,target -B1`'s lines for `dirs` (a header first), or null. */
export function parseDf(out: string, dirs: readonly string[]): DiskFree[] | null {
  const lines = out.split("\n").filter((l) => l.trim() !== "").slice(1);
  if (lines.length !== dirs.length) return null;
  const rows: DiskFree[] = [];
  for (const [i, l] of lines.entries()) {
    const m = l.match(/^\s*(\d+)\s(.+)$/);
    if (!m) return null;
    rows.push({ dir: dirs[i], mount: m[2].trim(), free: Number(m[1]) });
  }
  return rows;
}
