/**
 * Who listens on a TCP port, read from procfs: used to print `ready` only once our socat
 * listens, to name the process holding a busy port, and by tests to prove that nothing else
 * listens during a transfer.
 *
 * @module
 */
import { commandLine } from "../proc/liveness.ts";

/** One listening TCP socket. */
export interface Listener {
  /** Local address as printed by the kernel, decoded (IPv4 dotted, IPv6 compressed-ish). */
  address: string;
  port: number;
  inode: number;
}

function decodeV4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join(".");
}

function decodeV6(hex: string): string {
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    const le = word.match(/../g)!.reverse().join("");
    groups.push(le.slice(0, 4), le.slice(4, 8));
  }
  return groups.map((g) => parseInt(g, 16).toString(16)).join(":");
}

function parseTable(text: string, v6: boolean): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== "0A") continue;
    const [addr, port] = f[1].split(":");
    out.push({
      address: v6 ? decodeV6(addr) : decodeV4(addr),
      port: parseInt(port, 16),
      inode: Number(f[9]),
    });
  }
  return out;
}

/** Every listening TCP socket (IPv4 and IPv6) on this host's current network namespace. */
export function tcpListeners(): Listener[] {
  const read = (p: string) => {
    try {
      return Deno.readTextFileSync(p);
    } catch {
      return "";
    }
  };
  return [
    ...parseTable(read("/proc/net/tcp"), false),
    ...parseTable(read("/proc/net/tcp6"), true),
  ];
}

/** Socket inodes held open by `pid`. */
export function socketInodes(pid: number): Set<number> {
  const out = new Set<number>();
  try {
    for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        const m = Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`).match(/^socket:\[(\d+)\]$/);
        if (m) out.add(Number(m[1]));
      } catch { /* fd closed meanwhile */ }
    }
  } catch { /* process gone or not ours */ }
  return out;
}

/** True if `pid` holds a listening socket on `port`. */
export function pidListensOn(pid: number, port: number): boolean {
  const mine = socketInodes(pid);
  return tcpListeners().some((l) => l.port === port && mine.has(l.inode));
}

/** Describes who holds `port` ("pid 123 (socat OPENSSL-LISTEN…)"), or null if unknown. */
export function describePortHolder(port: number): string | null {
  const inodes = new Set(tcpListeners().filter((l) => l.port === port).map((l) => l.inode));
  if (inodes.size === 0) return null;
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid)) continue;
    for (const i of socketInodes(pid)) {
      if (inodes.has(i)) return `pid ${pid} (${(commandLine(pid) ?? []).join(" ").slice(0, 200)})`;
    }
  }
  return "a process of another user";
}
