/**
 * Process discovery through /proc for the e2e fixture: finds every process that belongs to a
 * cluster (by an environment marker, by session id or by parent chain) so that teardown can
 * kill exactly those, by PID, and tests can assert that nothing was left behind.
 *
 * @module
 */
import { sleep } from "../../src/proc/process.ts";

/** One process as seen in /proc. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Session id. */
  sid: number;
  /** One-letter state from /proc/<pid>/stat (`Z` = zombie). */
  state: string;
  /** argv joined by spaces (the comm name in brackets when argv is empty). */
  cmdline: string;
  /** Short command name (`comm`). */
  comm: string;
  /** Environment of the process at exec time (empty if unreadable). */
  env: Map<string, string>;
}

function parseStat(text: string): { state: string; ppid: number; sid: number; comm: string } {
  // comm is in parentheses and may contain spaces or parentheses: split at the last ')'.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const comm = text.slice(open + 1, close);
  const rest = text.slice(close + 2).split(" ");
  // rest[0]=state, [1]=ppid, [2]=pgrp, [3]=session
  return { state: rest[0], ppid: Number(rest[1]), sid: Number(rest[3]), comm };
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Reads one process; null if it vanished or is unreadable. */
export function readProc(pid: number): ProcInfo | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const { state, ppid, sid, comm } = parseStat(stat);
  const rawCmd = readText(`/proc/${pid}/cmdline`) ?? "";
  const cmdline = rawCmd.split("\0").filter((s) => s.length > 0).join(" ") || `[${comm}]`;
  const env = new Map<string, string>();
  const rawEnv = readText(`/proc/${pid}/environ`) ?? "";
  for (const kv of rawEnv.split("\0")) {
    const eq = kv.indexOf("=");
    if (eq > 0) env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return { pid, ppid, sid, state, cmdline, comm, env };
}

/** Every process currently visible in /proc. */
export function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const p = readProc(Number(entry.name));
    if (p) out.push(p);
  }
  return out;
}

/** What identifies the processes of interest. */
export interface ProcSelector {
  /** Environment variable name and value that mark the processes (inherited by children). */
  marker?: { name: string; value: string };
  /** Session ids (a process started with setsid leads a session named by its pid). */
  sessions?: ReadonlySet<number>;
  /** Roots whose descendants (by parent chain) are included, roots too. */
  roots?: ReadonlySet<number>;
  /**
   * Text the command line contains (e.g. a node's directory): our helpers get no inherited
   * marker (the SST program passes children only the variables they need) and run in sessions
   * of their own, but every one names a file of its node.
   */
  mentions?: string;
}

/** Living (non-zombie) processes matching `sel`, excluding the current process. */
export function findProcs(sel: ProcSelector, procs: ProcInfo[] = listProcs()): ProcInfo[] {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const hit = new Set<number>();
  for (const p of procs) {
    if (p.pid === Deno.pid) continue;
    if (sel.marker && p.env.get(sel.marker.name) === sel.marker.value) hit.add(p.pid);
    else if (sel.sessions?.has(p.sid)) hit.add(p.pid);
    else if (sel.mentions && p.cmdline.includes(sel.mentions)) hit.add(p.pid);
    else if (sel.roots) {
      // Walk up the parent chain (bounded).
      let cur: ProcInfo | undefined = p;
      for (let i = 0; cur && i < 64; i++) {
        if (sel.roots.has(cur.pid)) {
          hit.add(p.pid);
          break;
        }
        cur = byPid.get(cur.ppid);
      }
    }
  }
  // Descendants of anything already selected belong to it as well.
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!hit.has(p.pid) && hit.has(p.ppid) && p.pid !== Deno.pid) {
        hit.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.filter((p) => hit.has(p.pid) && p.state !== "Z");
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const p = readProc(pid);
  return p !== null && p.state !== "Z";
}

/**
 * SIGKILLs every process matching `sel`, by PID, repeatedly (new children may appear while
 * killing) until none is left or `timeoutMs` passes. Returns the processes that were killed
 * and those that survived.
 */
export async function killMatching(
  sel: ProcSelector,
  timeoutMs = 10_000,
): Promise<{ killed: ProcInfo[]; survivors: ProcInfo[] }> {
  const killed = new Map<number, ProcInfo>();
  const deadline = Date.now() + timeoutMs;
  let left = findProcs(sel);
  while (left.length > 0 && Date.now() < deadline) {
    for (const p of left) {
      if (!killed.has(p.pid)) killed.set(p.pid, p);
      try {
        Deno.kill(p.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await sleep(100);
    left = findProcs(sel);
  }
  // Give the parents (or init) of the killed processes, and of their session mates that died
  // on their own meanwhile, a moment to reap them: no zombie should show up in `pgrep` right
  // after a test. (A session id cannot be reused while the session has members.)
  const sids = new Set<number>([
    ...(sel.sessions ?? []),
    ...[...killed.values()].map((p) => p.sid),
  ]);
  const pending = () =>
    listProcs().some((p) => p.pid !== Deno.pid && (killed.has(p.pid) || sids.has(p.sid)));
  while (pending() && Date.now() < deadline) await sleep(100);
  return { killed: [...killed.values()], survivors: left };
}

/** A one-line description of a process for messages. */
export function describe(p: ProcInfo): string {
  return `pid ${p.pid} (ppid ${p.ppid}, sid ${p.sid}, ${p.state}): ${p.cmdline}`;
}
