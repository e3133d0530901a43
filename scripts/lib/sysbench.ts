/**
 * sysbench `oltp_write_only` against one node, as a DBA would load a donor: the tables made by
 * `prepare`, then `run` at a fixed rate until stopped. The e2e clone test and `bench:stall
 * --load sysbench` share it.
 *
 * sysbench connects through the node's socket (inside the node's network namespace when it has
 * one) as root; its tables are `sbtest.sbtest1…N`.
 *
 * @module
 */
import type { Cluster, Node } from "./cluster.ts";
import { must } from "./loop_fs.ts";

/** The schema of sysbench's tables. */
export const SYSBENCH_DB = "sbtest";

/** The shape of sysbench's tables. */
export interface SysbenchTables {
  /** How many tables (`--tables`). */
  tables: number;
  /** Rows of each table (`--table-size`). */
  rows: number;
}

/** How `run` drives the node. */
export interface SysbenchRate {
  /** Transactions per second, all threads together (`--rate`). */
  rate: number;
  /** Client threads (`--threads`). */
  threads: number;
  /** `--rand-type` (sysbench's default: `special`, a hot spot). */
  randType?: "uniform" | "special" | "gaussian" | "pareto";
  /** `--mysql-ignore-errors` (default: none but the deadlocks sysbench always retries). */
  ignoreErrors?: "all";
}

/** `sysbench oltp_write_only` with the connection and table options for `n`. */
function sysbenchArgv(n: Node, t: SysbenchTables): string[] {
  return [
    ...(n.placement.wrap ?? []),
    "sysbench",
    "oltp_write_only",
    "--db-driver=mysql",
    `--mysql-socket=${n.socket}`,
    "--mysql-user=root",
    `--mysql-db=${SYSBENCH_DB}`,
    `--tables=${t.tables}`,
    `--table-size=${t.rows}`,
  ];
}

/** Creates the schema and sysbench's tables on `n` (`threads` tables loaded at a time). */
export async function sysbenchPrepare(
  cluster: Cluster,
  n: Node,
  t: SysbenchTables,
  threads = 1,
): Promise<void> {
  await cluster.sql(n, `CREATE DATABASE IF NOT EXISTS ${SYSBENCH_DB}`);
  const [cmd, ...args] = sysbenchArgv(n, t);
  await must(cmd, [...args, `--threads=${threads}`, "prepare"]);
}

/** What a sysbench run did. */
export interface SysbenchResult {
  /** Seconds (report intervals of 1 s) in which transactions committed. */
  busySeconds: number;
  /** Why it failed: it ended before `stop()`, or said FATAL; null when it ran throughout. */
  error: string | null;
}

/** A running sysbench. */
export interface SysbenchRun {
  /** Null while it runs; else why it ended (before `stop()`, it is a failure). */
  ended(): string | null;
  /** Stops it (SIGKILL) and returns what it did. */
  stop(): Promise<SysbenchResult>;
}

/** The last lines of a sysbench output, for an error message. */
function tail(text: string): string {
  return text.trim().split("\n").slice(-5).join(" | ");
}

/** Starts `sysbench … run` on `n` at `r` until stopped (at most `maxSeconds`). */
export function sysbenchRun(
  n: Node,
  t: SysbenchTables,
  r: SysbenchRate,
  maxSeconds = 600,
): SysbenchRun {
  const [cmd, ...args] = sysbenchArgv(n, t);
  const child = new Deno.Command(cmd, {
    args: [
      ...args,
      `--rate=${r.rate}`,
      `--threads=${r.threads}`,
      ...(r.randType ? [`--rand-type=${r.randType}`] : []),
      `--time=${maxSeconds}`,
      "--report-interval=1",
      ...(r.ignoreErrors ? [`--mysql-ignore-errors=${r.ignoreErrors}`] : []),
      "run",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new Response(child.stdout).text();
  const err = new Response(child.stderr).text();
  let stopping = false;
  let endedWith: string | null = null;
  const status = child.status.then(async (s) => {
    if (!stopping) {
      endedWith = `sysbench ended (exit ${s.code}${s.signal ? `, ${s.signal}` : ""}): ` +
        tail(`${await out}\n${await err}`);
    }
  });
  return {
    ended: () => endedWith,
    async stop() {
      stopping = true;
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await status;
      const text = await out;
      const fatal = /FATAL.*/.exec(`${text}\n${await err}`)?.[0] ?? null;
      return {
        busySeconds: [...text.matchAll(/tps: ([\d.]+)/g)].filter((m) => Number(m[1]) > 0).length,
        error: endedWith ?? fatal,
      };
    },
  };
}
