/**
 * TCP listeners as reported by `ss -ltnpH` (iproute2), and a poller that records every
 * listener that appears during a time window (e.g. while a joiner receives its SST).
 *
 * @module
 */
import { denoAdapter, run, sleep } from "../../../src/proc/process.ts";
import { withTeardown } from "../../../scripts/lib/teardown.ts";

/** One listening socket and one process holding it. */
export interface Listener {
  /** Local address as printed by ss, e.g. `127.0.0.1:4444`, `[::]:22`, `*:3306`. */
  local: string;
  port: number;
  /** Process name as printed by ss (`socat`, `rsync`, `mariadbd`, …); `?` if none shown. */
  name: string;
  /** Process id, or 0 if ss did not show one. */
  pid: number;
  /** Set by {@link watchListeners}' `tag` callback when the listener was first seen. */
  tag?: string;
}

/** Parses `ss -ltnpH` output. Exported for tests. */
export function parseSs(output: string): Listener[] {
  const out: Listener[] = [];
  for (const line of output.split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4 || cols[0] !== "LISTEN") continue;
    const local = cols[3];
    const port = Number(local.slice(local.lastIndexOf(":") + 1));
    const users = [...line.matchAll(/\("([^"]*)",pid=(\d+),fd=\d+\)/g)];
    if (users.length === 0) out.push({ local, port, name: "?", pid: 0 });
    for (const u of users) out.push({ local, port, name: u[1], pid: Number(u[2]) });
  }
  return out;
}

/** Current TCP listeners with their processes. */
export async function listListeners(): Promise<Listener[]> {
  const r = await run(denoAdapter, { cmd: "ss", args: ["-ltnpH"] }, { timeoutMs: 10_000 });
  if (r.code !== 0 || r.timedOut) throw new Error(`ss -ltnpH failed (${r.code}): ${r.stderr}`);
  return parseSs(r.stdout);
}

function key(l: Listener): string {
  return `${l.local}|${l.pid}`;
}

/** A running poll of listeners; see {@link watchListeners}. */
export interface ListenerWatch {
  /** Stops polling and returns every listener seen that was not in the baseline. */
  stop(): Promise<Listener[]>;
}

/**
 * Polls `ss` every `intervalMs` until stopped and collects every listener (address + pid)
 * that was not present in `baseline`. `tag` is called when a listener is first seen (while
 * its process still exists), e.g. to record which node owns the process.
 */
export function watchListeners(
  baseline: Listener[],
  tag?: (l: Listener) => string | undefined,
  intervalMs = 100,
): ListenerWatch {
  return pollListeners(listListeners, baseline, tag, intervalMs);
}

/**
 * Calls `list` every `intervalMs` until stopped and collects every listener (address + pid)
 * that was not in `baseline`, tagged by `tag` when first seen. The one poller behind
 * {@link watchListeners} and the per-namespace watch of `netns_listeners.ts`.
 */
export function pollListeners(
  list: () => Promise<Listener[]>,
  baseline: Listener[],
  tag: ((l: Listener) => string | undefined) | undefined,
  intervalMs: number,
): ListenerWatch {
  const known = new Set(baseline.map(key));
  const seen = new Map<string, Listener>();
  let running = true;
  let failure: unknown = null;
  const loop = (async () => {
    while (running) {
      try {
        for (const l of await list()) {
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
 * Runs `action` while `watch` polls and stops the watch whatever happens; returns the action's
 * result and the listeners seen. A failure of the action wins over one of the watch (which is
 * then only logged).
 */
export async function whileWatching<T>(
  watch: ListenerWatch,
  action: () => Promise<T>,
): Promise<{ result: T; listeners: Listener[] }> {
  let listeners: Listener[] = [];
  const result = await withTeardown(watch, action, async (w) => {
    listeners = await w.stop();
  }, "listener watch");
  return { result, listeners };
}
