/**
 * TCP listeners and processes inside one host of a {@link NetnsLab}: `ss -ltnpH` run in the
 * host's namespace (it sees only that namespace's sockets; PIDs are the root PID namespace's),
 * and a poller recording every listener that appears while a node joins.
 *
 * @module
 */
import { sleep } from "../../../src/proc/process.ts";
import type { NetnsLab } from "../../../scripts/lib/netns.ts";
import { type Listener, type ListenerWatch, parseSs, pollListeners } from "./listeners.ts";
import { describe, readProc } from "../../../scripts/lib/procfs.ts";

/** Current TCP listeners inside host `name`. */
export async function listListenersIn(lab: NetnsLab, name: string): Promise<Listener[]> {
  const r = await lab.exec(name, "ss", ["-ltnpH"]);
  if (r.code !== 0 || r.timedOut) {
    throw new Error(`ss -ltnpH inside ${name} failed (${r.code}): ${r.stderr.trim()}`);
  }
  return parseSs(r.stdout);
}

/**
 * Polls the listeners inside host `name` every `intervalMs` until stopped. `tag` is called
 * when a listener is first seen (while its process still exists).
 */
export function watchListenersIn(
  lab: NetnsLab,
  name: string,
  baseline: Listener[],
  tag?: (l: Listener) => string | undefined,
  intervalMs = 150,
): ListenerWatch {
  return pollListeners(() => listListenersIn(lab, name), baseline, tag, intervalMs);
}

/**
 * Waits (bounded) until the namespace of host `name` holds no process except `allowed`;
 * returns descriptions of the others still there at the deadline (empty on success).
 */
export async function waitNsOnly(
  lab: NetnsLab,
  name: string,
  allowed: number[],
  timeoutMs = 10_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const others = (await lab.pids(name))
      .filter((pid) => !allowed.includes(pid))
      .map((pid) => readProc(pid))
      .filter((p) => p !== null && p.state !== "Z")
      .map((p) => describe(p!));
    if (others.length === 0 || Date.now() > deadline) return others;
    await sleep(200);
  }
}
