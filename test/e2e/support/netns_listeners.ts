/**
 * TCP listeners and processes inside one host of a {@link NetnsLab}: `ss -ltnpH` run in the
 * host's namespace (it sees only that namespace's sockets; PIDs are the root PID namespace's),
 * and a poller recording every listener that appears while a node joins.
 *
 * @module
 */
import { sleep } from "../../../src/proc/process.ts";
import type { NetnsLab } from "../netns.ts";
import { type Listener, parseSs } from "./listeners.ts";
import { describe, readProc } from "./procfs.ts";

/** Current TCP listeners inside host `name`. */
export async function listListenersIn(lab: NetnsLab, name: string): Promise<Listener[]> {
  const r = await lab.exec(name, "ss", ["-ltnpH"]);
  if (r.code !== 0 || r.timedOut) {
    throw new Error(`ss -ltnpH inside ${name} failed (${r.code}): ${r.stderr.trim()}`);
  }
  return parseSs(r.stdout);
}

/** A running poll; see {@link watchListenersIn}. */
export interface NsListenerWatch {
  /** Stops polling; every listener (address + pid) seen that was not in the baseline. */
  stop(): Promise<Listener[]>;
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
): NsListenerWatch {
  const key = (l: Listener) => `${l.local}|${l.pid}`;
  const known = new Set(baseline.map(key));
  const seen = new Map<string, Listener>();
  let running = true;
  let failure: unknown = null;
  const loop = (async () => {
    while (running) {
      try {
        for (const l of await listListenersIn(lab, name)) {
          if (!known.has(key(l)) && !seen.has(key(l))) seen.set(key(l), { ...l, tag: tag?.(l) });
        }
      } catch (e) {
        failure = e;
        return;
      }
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (failure) throw failure;
      return [...seen.values()];
    },
  };
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
