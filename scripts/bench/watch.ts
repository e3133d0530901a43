/**
 * Sampling of the SST processes from /proc while a node joins: the PIDs mariadbd starts on both
 * nodes, every 50 ms.
 *
 * - SST seconds: from the start of the joiner's SST script to its exit (everything the joiner
 *   waits for: listener, donor selection, flush, copy, completion);
 * - ready seconds: from that start until the joiner's SST port listens (the script prints
 *   `ready` right after);
 * - donor seconds: the donor's SST script, start to exit;
 * - peak RSS: the largest sum, over one sample, of the resident memory of the SST processes
 *   below both mariadbd (scripts, socat/stunnel, rsync, mariabackup, our Deno processes), and of
 *   the Deno processes alone (this program);
 * - CPU seconds by command name (the last sample before a process exits, so short-lived ones
 *   are undercounted).
 *
 * @module
 */
import type { Node } from "../lib/cluster.ts";
import { sleep } from "../../src/proc/process.ts";

const TICKS = 100; // USER_HZ on Linux

function uptime(): number {
  return Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
}

interface Stat {
  pid: number;
  comm: string;
  /** Start time in seconds since boot. */
  start: number;
  rssKiB: number;
  /** User + system CPU seconds so far. */
  cpu: number;
}

function stat(pid: number): Stat | null {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const close = s.lastIndexOf(")");
    const comm = s.slice(s.indexOf("(") + 1, close);
    const f = s.slice(close + 2).split(" ");
    // fields after comm: state(0) ppid(1) … starttime(19) vsize(20) rss(21, pages)
    const cpu = (Number(f[11]) + Number(f[12])) / TICKS;
    return { pid, comm, start: Number(f[19]) / TICKS, rssKiB: Number(f[21]) * 4, cpu };
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
      if (text) out.push(...text.split(" ").map(Number));
    }
  } catch { /* gone */ }
  return out;
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  const todo = childrenOf(pid);
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...childrenOf(p));
  }
  return out;
}

/** True if `pid`'s network namespace has a TCP socket listening on `port`. */
function listensOn(pid: number, port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")} `;
  for (const f of ["tcp", "tcp6"]) {
    try {
      for (const l of Deno.readTextFileSync(`/proc/${pid}/net/${f}`).split("\n")) {
        const cols = l.trim().split(/\s+/);
        if (cols[1]?.endsWith(hex.trim()) && cols[3] === "0A") return true;
      }
    } catch { /* gone */ }
  }
  return false;
}

/** The figures of one SST, from /proc. */
export interface RunSample {
  sstSeconds: number;
  readySeconds: number;
  donorSeconds: number;
  peakRssMiB: number;
  peakDenoRssMiB: number;
  /** CPU seconds of the SST processes (both nodes) by command name, as last seen. */
  cpuByCommand: Record<string, number>;
  /** When the donor's SST script ran, in seconds since boot (end NaN if not seen ending). */
  donorSpan: { start: number; end: number };
}

/** Start and end (seconds since boot) of the first SST script mariadbd runs on one node. */
class ScriptSpan {
  start = 0;
  end = 0;
  private pid = 0;

  /** Notes the script among `kids` (mariadbd's children) at time `now`. */
  see(kids: Stat[], now: number): void {
    if (!this.pid && kids.length > 0) [this.pid, this.start] = [kids[0].pid, kids[0].start];
    if (this.pid && !this.end && !kids.some((k) => k.pid === this.pid)) this.end = now;
  }

  /** Seconds from start to end (NaN if either was not seen). */
  get seconds(): number {
    return this.pid && this.end ? this.end - this.start : NaN;
  }
}

function kidsOf(node: Node): Stat[] {
  return node.pid ? childrenOf(node.pid).map(stat).filter((s) => s !== null) : [];
}

/** The running sums of one watch: peak memory and CPU by process. */
class Resources {
  peakKiB = 0;
  peakDenoKiB = 0;
  readonly cpu = new Map<number, { comm: string; cpu: number }>();

  /** One sample of every process below `roots`. */
  sample(roots: (number | null)[]): void {
    let rss = 0;
    let rssDeno = 0;
    for (const root of roots) {
      for (const s of root ? descendants(root).map(stat) : []) {
        if (!s) continue;
        rss += s.rssKiB;
        this.cpu.set(s.pid, { comm: s.comm, cpu: s.cpu });
        if (s.comm === "deno") rssDeno += s.rssKiB;
      }
    }
    this.peakKiB = Math.max(this.peakKiB, rss);
    this.peakDenoKiB = Math.max(this.peakDenoKiB, rssDeno);
  }

  /** CPU seconds by command name. */
  byCommand(): Record<string, number> {
    const acc: Record<string, number> = {};
    for (const { comm, cpu } of this.cpu.values()) acc[comm] = (acc[comm] ?? 0) + cpu;
    return acc;
  }
}

/**
 * Watches the SST processes of both nodes while `joiner` joins (sampled every 50 ms); `stop()`
 * returns the figures. Throws from `stop()` if the joiner's SST script was never seen ending.
 */
export function watchSst(joiner: Node, donor: Node): { stop(): Promise<RunSample> } {
  let running = true;
  const j = new ScriptSpan();
  const d = new ScriptSpan();
  const res = new Resources();
  let ready = 0;
  const loop = (async () => {
    while (running) {
      const now = uptime();
      j.see(kidsOf(joiner), now);
      d.see(kidsOf(donor), now);
      if (j.start && !ready && joiner.pid && listensOn(joiner.pid, 4444)) ready = now;
      res.sample([joiner.pid, donor.pid]);
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (!j.end) throw new Error("did not see the joiner's SST script");
      return {
        sstSeconds: j.seconds,
        readySeconds: ready ? ready - j.start : NaN,
        donorSeconds: d.seconds,
        peakRssMiB: res.peakKiB / 1024,
        peakDenoRssMiB: res.peakDenoKiB / 1024,
        cpuByCommand: res.byCommand(),
        donorSpan: { start: d.start || NaN, end: d.end || NaN },
      };
    },
  };
}
