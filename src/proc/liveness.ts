/**
 * Is a process still there? Used for `--parent` (mariadbd), for our own parent, and for stale
 * pid files. A zombie counts as gone.
 *
 * @module
 */

/** Process state letter from procfs, or null if the process does not exist. */
export function processState(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return null;
  }
}

/** True if `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const s = processState(pid);
  return s !== null && s !== "Z" && s !== "X";
}

/** The command name (`comm`) of `pid`, or null. */
export function commandName(pid: number): string | null {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return null;
  }
}

/** The full command line of `pid` as argv, or null. */
export function commandLine(pid: number): string[] | null {
  try {
    const raw = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return raw.split("\0").filter((s, i, a) => s !== "" || i < a.length - 1);
  } catch {
    return null;
  }
}

/** Direct children of `pid`: from procfs' children list, else by scanning every ppid. */
export function childrenOf(pid: number): number[] {
  try {
    const raw = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`);
    return raw.trim().split(/\s+/).filter((s) => s !== "").map(Number);
  } catch {
    return scanChildren(pid);
  }
}

function scanChildren(pid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const child = Number(e.name);
    if (!Number.isInteger(child)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${child}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(child);
    } catch { /* gone */ }
  }
  return out;
}
