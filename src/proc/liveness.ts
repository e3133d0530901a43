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

/**
 * When `pid` started, in clock ticks since boot (`/proc/<pid>/stat` field 22), or null. With
 * the PID it identifies a process for good: a PID reused later has another start time.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const ticks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    return /^\d+$/.test(ticks ?? "") ? ticks : null;
  } catch {
    return null;
  }
}

/** True if the process `pid` started at `startTime` (see {@link processStartTime}) still runs. */
export function isSameProcessAlive(pid: number, startTime: string): boolean {
  return isAlive(pid) && processStartTime(pid) === startTime;
}

/** The process group of `pid` (`/proc/<pid>/stat` field 5), or null. */
export function processGroupOf(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    return Number.isInteger(pgrp) ? pgrp : null;
  } catch {
    return null;
  }
}

/**
 * Every live process (zombies left out) in one of `groups`, whatever its parent: a group's
 * leader may be gone while the processes it forked still run.
 */
export function processesInGroups(groups: ReadonlySet<number>): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    const g = processGroupOf(pid);
    if (g !== null && groups.has(g) && isAlive(pid)) out.push(pid);
  }
  return out;
}

/**
 * The value of variable `name` in the environment `pid` started with, or null (not set, or not
 * readable: procfs shows another user's environment only to root).
 */
export function environmentValue(pid: number, name: string): string | null {
  try {
    const raw = Deno.readTextFileSync(`/proc/${pid}/environ`);
    const entry = raw.split("\0").find((e) => e.startsWith(`${name}=`));
    return entry === undefined ? null : entry.slice(name.length + 1);
  } catch {
    return null;
  }
}

/** The user id `pid` runs as (the owner of its procfs directory: its effective uid), or null. */
export function processUid(pid: number): number | null {
  try {
    return Deno.statSync(`/proc/${pid}`).uid;
  } catch {
    return null;
  }
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
    if (Number.isInteger(child) && parentOf(child) === pid) out.push(child);
  }
  return out;
}

/** The parent PID of `pid`, or null. */
export function parentOf(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

const SHELLS: ReadonlySet<string> = new Set(["sh", "dash", "bash", "ash", "busybox"]);

/**
 * The processes whose death means we must stop: our parent, and — when it is the `sh -c`
 * mariadbd started us through (Debian's dash does not exec) — the shell's parent, mariadbd.
 */
export function watchedAncestors(): number[] {
  const parent = Deno.ppid;
  const out = [parent];
  if (SHELLS.has(commandName(parent) ?? "")) {
    const grand = parentOf(parent);
    if (grand !== null && grand > 1) out.push(grand);
  }
  return out.filter((p) => p > 1);
}
