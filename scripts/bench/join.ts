/**
 * One join of node2 by SST, measured and checked: the step every scenario repeats.
 *
 * @module
 */
import { readFrom } from "../lib/cluster.ts";
import { type Bench, type BenchSetup, configure } from "./lab.ts";
import type { Method } from "./methods.ts";
import { benchBytes, settleWriteback } from "./data.ts";
import { type RunSample, watchSst } from "./watch.ts";

/** How node2 starts its join. */
export interface JoinOptions {
  /** Before the join, with node2 stopped and configured: e.g. wipe or restore its datadir. */
  prepare: () => Promise<void>;
  /** How long node2 may take to reach Synced. */
  timeoutMs: number;
  /** Run during the join, from just before node2 starts until it is Synced (e.g. a writer). */
  during?: () => Promise<{ stop(): Promise<void> }>;
}

/** A join's figures: /proc's, the wall time from node2's start to Synced, node1's log. */
export interface JoinSample extends RunSample {
  /** Seconds from starting node2's mariadbd until it is Synced. */
  joinSeconds: number;
  /** Error-log text node1 wrote during the join. */
  donorLog: string;
}

/**
 * Stops node2, configures both nodes for `m`, runs `prepare`, lets writeback settle, starts node2
 * and waits for Synced while {@link watchSst} samples. Throws unless node2 got an SST and holds
 * as many `bench*` table bytes as node1.
 */
export async function joinOnce(
  b: Bench,
  m: Method,
  setup: BenchSetup,
  opts: JoinOptions,
): Promise<JoinSample> {
  const c = b.cluster;
  await c.stop(b.n2);
  await configure(b, m, setup);
  await opts.prepare();
  await settleWriteback();
  const logFrom = Deno.statSync(b.n1.errorLog).size;
  const side = await opts.during?.();
  const watch = watchSst(b.n2, b.n1);
  const t0 = performance.now();
  let sample: RunSample;
  let joinSeconds = NaN;
  try {
    c.start(b.n2);
    await c.waitSynced(b.n2, opts.timeoutMs);
    joinSeconds = (performance.now() - t0) / 1000;
  } finally {
    sample = await watch.stop();
    await side?.stop();
  }
  checkJoin(b, m);
  return { ...sample, joinSeconds, donorLog: readFrom(b.n1.errorLog, logFrom) };
}

function checkJoin(b: Bench, m: Method): void {
  const expected = benchBytes(b.n1.datadir);
  const got = benchBytes(b.n2.datadir);
  const how = b.cluster.joinType(b.n2);
  if (how !== "SST" || got !== expected) {
    throw new Error(
      `${m.label}: node2 did not get a full SST (join ${how}, ${got} of ${expected} table bytes)`,
    );
  }
}

/** The `prepare` step of a join from nothing: node2's datadir emptied. */
export function wipeNode2(b: Bench): () => Promise<void> {
  return () => b.cluster.wipe(b.n2);
}

/**
 * Our donor's own figure: the last `donor writes blocked for N s` in a log text (seconds), or
 * NaN (stock methods do not log it).
 */
export function donorBlocked(log: string): number {
  const all = [...log.matchAll(/donor writes blocked for ([\d.]+) s/g)];
  return all.length > 0 ? Number(all.at(-1)![1]) : NaN;
}

/** How our donor spent its lock, from its log (see {@link lockSplit}). */
export interface LockSplit {
  /** `donor writes blocked for N s`. */
  blocked: number;
  /** `mariadbd's flush M s`. */
  flush: number;
  /** `clones K s` (NaN: no clones). */
  clones: number;
  /** `for F files` of the clones (NaN: no clones). */
  cloneFiles: number;
  /** `locked pass P s` (NaN: none, everything was cloned). */
  lockedPass: number;
  /** The locked pass's `compared X, sent Y in Z s` (or `copied …`), or null. */
  lockedPassLine: string | null;
}

/** The last `clones took K s; slowest: …` line of our donor in a log text, or null. */
export function slowClones(log: string): string | null {
  return [...log.matchAll(/clones took [\d.]+ s; slowest: [^\n]*/g)].at(-1)?.[0] ?? null;
}

/**
 * The split of the last `donor writes blocked for N s (mariadbd's flush M s, clones K s for F
 * files, locked pass P s)` in a log text, with the locked pass's `compared X, sent Y … in Z s`
 * line; null when the text has neither (stock methods).
 */
export function lockSplit(log: string): LockSplit | null {
  const lock = [...log.matchAll(/donor writes blocked for ([\d.]+) s \(([^)]*)\)/g)].at(-1);
  if (!lock) return null;
  const num = (re: RegExp, i = 1) => Number(re.exec(lock[2])?.[i] ?? NaN);
  const pass = [
    ...log.matchAll(
      /locked (?:delta )?pass: ((?:compared|copied) .+?, sent [\d.]+ \S+) \(\d+ bytes\) in ([\d.]+ s)/g,
    ),
  ].at(-1);
  return {
    blocked: Number(lock[1]),
    flush: num(/mariadbd's flush ([\d.]+) s/),
    clones: num(/clones ([\d.]+) s for (\d+) files/),
    cloneFiles: num(/clones ([\d.]+) s for (\d+) files/, 2),
    lockedPass: num(/locked pass ([\d.]+) s/),
    lockedPassLine: pass ? `${pass[1]} in ${pass[2]}` : null,
  };
}
