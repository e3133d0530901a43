/**
 * Host names and addresses through the system resolver (`getent`, so /etc/hosts and NSS are
 * honoured exactly as for mariadbd), and the "is this address mine?" test.
 *
 * @module
 */
import { type ProcessAdapter, run } from "../proc/process.ts";

/** Addresses a name resolves to (IPv4 and IPv6), in resolver order; empty if none. */
export async function lookupHost(adapter: ProcessAdapter, name: string): Promise<string[]> {
  const r = await run(adapter, { cmd: "getent", args: ["ahosts", name] }, { timeoutMs: 10_000 });
  if (r.code !== 0) return [];
  const out: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const ip = line.split(/\s+/)[0];
    if (ip && !out.includes(ip)) out.push(ip);
  }
  return out;
}

/** The canonical name of an IP address, or null if the resolver knows none. */
export async function reverseName(adapter: ProcessAdapter, ip: string): Promise<string | null> {
  const r = await run(adapter, { cmd: "getent", args: ["hosts", ip] }, { timeoutMs: 10_000 });
  if (r.code !== 0) return null;
  const fields = r.stdout.split("\n")[0].trim().split(/\s+/);
  return fields.length >= 2 ? fields[1] : null;
}

/** True for loopback addresses and addresses configured on this host's interfaces. */
export function isLocalAddress(ip: string): boolean {
  if (/^127\./.test(ip) || ip === "::1") return true;
  return Deno.networkInterfaces().some((i) => i.address === ip);
}
