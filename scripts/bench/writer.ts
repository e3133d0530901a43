/**
 * The stall scenario's writer: one client connection to the donor inserting one row into a
 * small table of its own (`stall.ticks`, outside the `bench*` schemas) every 50 ms with
 * autocommit, and noting client-side when each commit returned. A commit that blocks (the
 * donor's writes locked for the SST) shows as a gap between two commit times; the longest gap is
 * how long the donor could not write.
 *
 * The connection is the `mariadb` client with `--unbuffered`; after each INSERT it selects the
 * row's number, so the line arriving on its stdout marks the commit's return.
 *
 * @module
 */
import type { Cluster, Node } from "../lib/cluster.ts";
import { sleep } from "../../src/proc/process.ts";

/** Milliseconds between two inserts when the donor is not blocked. */
export const WRITER_PERIOD_MS = 50;

/** What one writer saw. */
export interface WriterResult {
  /** Rows committed. */
  rows: number;
  /** The longest time between two consecutive commits, in seconds. */
  longestGap: number;
  /** Every gap over {@link GAP_NOTED_S} between two commits, in order. */
  gaps: Gap[];
  /** Whether the writer failed (its error), or null. */
  error: string | null;
}

/** Gaps at least this long (seconds) are kept with their time, to place them in the join. */
export const GAP_NOTED_S = 0.15;

/** One stop of the writer: when its last commit before returned, and for how long. */
export interface Gap {
  /** Seconds since boot (as /proc's times) of the last commit before the gap. */
  at: number;
  /** Seconds until the next commit returned. */
  seconds: number;
}

/** Creates the writer's table on `node` (replicated, tiny). */
export async function createWriterTable(cluster: Cluster, node: Node): Promise<void> {
  await cluster.sql(
    node,
    "CREATE DATABASE IF NOT EXISTS stall; CREATE TABLE IF NOT EXISTS stall.ticks " +
      "(id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6) NOT NULL) ENGINE=InnoDB",
  );
}

function clientCommand(node: Node): Deno.Command {
  const [cmd, ...pre] = [...(node.placement.wrap ?? []), "mariadb"];
  const args = ["--no-defaults", "--batch", "--skip-column-names", "--unbuffered"];
  return new Deno.Command(cmd, {
    args: [...pre, ...args, "-S", node.socket, "-u", "root"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Reads lines of `stream` (the client's output), one per call. */
function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string | null> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return async () => {
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) return null;
      buf += value;
    }
    const i = buf.indexOf("\n");
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    return line;
  };
}

/**
 * Starts the writer on `node`; `stop()` ends it (after the commit in flight, bounded by 60 s,
 * then the client is killed) and returns the figures.
 */
export function startWriter(node: Node): { stop(): Promise<WriterResult> } {
  const child = clientCommand(node).spawn();
  const stdin = child.stdin.getWriter();
  const nextLine = lineReader(child.stdout);
  const enc = new TextEncoder();
  let running = true;
  const commits: number[] = [];
  // performance.now() (ms) → seconds since boot, the clock of /proc's process start times.
  const bootOffset = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]) -
    performance.now() / 1000;
  const loop = (async () => {
    for (let i = 1; running; i++) {
      const sent = performance.now();
      await stdin.write(enc.encode(`INSERT INTO stall.ticks (at) VALUES (NOW(6)); SELECT ${i};\n`));
      const line = await nextLine();
      if (line === null) throw new Error("the writer's client ended");
      if (line.trim() !== String(i)) throw new Error(`the writer's client said: ${line}`);
      commits.push(performance.now());
      await sleep(Math.max(0, WRITER_PERIOD_MS - (performance.now() - sent)));
    }
  })();
  // Handled at once: a client that ends mid-run is reported by stop(), not an unhandled rejection.
  const outcome = loop.then(() => null, (e: unknown) => String(e));
  const stderr = new Response(child.stderr).text();
  return {
    async stop() {
      running = false;
      const error = await settle(outcome, 60_000);
      await stdin.close().catch(() => {});
      if (error !== null) child.kill("SIGKILL");
      await child.status;
      const said = (await stderr).trim();
      return {
        rows: commits.length,
        longestGap: longestGap(commits),
        gaps: notedGaps(commits, bootOffset),
        error: error === null ? (said || null) : [error, said].filter(Boolean).join(": "),
      };
    },
  };
}

/** What `p` (null, or an error as text) gave within `ms`; else a timeout as text. */
async function settle(p: Promise<string | null>, ms: number): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((r) =>
    timer = setTimeout(() => r(`still blocked after ${ms} ms`), ms)
  );
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The gaps of at least {@link GAP_NOTED_S} between consecutive times (ms), placed in boot time. */
export function notedGaps(times: number[], bootOffset: number): Gap[] {
  const out: Gap[] = [];
  for (let i = 1; i < times.length; i++) {
    const seconds = (times[i] - times[i - 1]) / 1000;
    if (seconds >= GAP_NOTED_S) out.push({ at: times[i - 1] / 1000 + bootOffset, seconds });
  }
  return out;
}

/** The longest interval between consecutive times (ms) in seconds (NaN with fewer than 2). */
export function longestGap(times: number[]): number {
  let max = NaN;
  for (let i = 1; i < times.length; i++) {
    const gap = (times[i] - times[i - 1]) / 1000;
    if (!(gap <= max)) max = gap;
  }
  return max;
}
