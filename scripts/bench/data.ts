/**
 * The benchmark's data: incompressible InnoDB tables on node1 (loaded with `wsrep_on=OFF` and
 * `sql_log_bin=0` in the loading sessions: nothing replicates or goes to the binary log), 128 MiB
 * each over 4 schemas `bench1`…`bench4`; the page-cache and writeback hygiene before each run;
 * and the row changes of the re-join scenario.
 *
 * @module
 */
import type { Cluster, Node } from "../lib/cluster.ts";
import { denoAdapter, run, sleep } from "../../src/proc/process.ts";
import { treeBytes, treeFiles } from "../bench_common.ts";

const SCHEMAS = 4;
/** Rows of each table: 7 KiB of random bytes each, ~128 MiB per table on disk. */
export const TABLE_ROWS = 16_384;
const CHUNK_ROWS = 2048;
const COLUMNS = 7;

/** Bytes of the benchmark schemas' files (`bench*`) in a datadir. */
export function benchBytes(datadir: string): number {
  let n = 0;
  for (const e of Deno.readDirSync(datadir)) {
    if (e.isDirectory && e.name.startsWith("bench")) n += treeBytes(`${datadir}/${e.name}`);
  }
  return n;
}

/** The loaded tables so far (`bench<s>.t<n>`); `next` is the number of the next one. */
export interface Tables {
  next: number;
}

/** The qualified name of table number `t`. */
export function tableName(t: number): string {
  return `bench${(t % SCHEMAS) + 1}.t${t}`;
}

const randomRow = Array.from({ length: COLUMNS }, () => "RANDOM_BYTES(1024)").join(", ");

/** Creates and fills table number `t` on `node` (one session, not replicated). */
async function loadTable(cluster: Cluster, node: Node, t: number): Promise<void> {
  const cols = Array.from({ length: COLUMNS }, (_, i) => `c${i} VARBINARY(1024) NOT NULL`);
  const name = tableName(t);
  const stmts = ["SET SESSION wsrep_on=OFF", "SET SESSION sql_log_bin=0"];
  stmts.push(`CREATE TABLE ${name} (id INT PRIMARY KEY, ${cols.join(", ")}) ENGINE=InnoDB`);
  for (let r = 0; r < TABLE_ROWS; r += CHUNK_ROWS) {
    stmts.push(
      `INSERT INTO ${name} SELECT seq, ${randomRow} FROM bench1.seq_${r + 1}_to_${r + CHUNK_ROWS}`,
    );
  }
  await cluster.sql(node, stmts.join(";\n"), 600_000);
}

/** Adds 128 MiB tables on `node` until its datadir holds `mib` MiB. */
export async function growData(cluster: Cluster, node: Node, mib: number, tables: Tables) {
  const started = Date.now();
  for (let s = 1; s <= SCHEMAS; s++) {
    await cluster.sql(node, `CREATE DATABASE IF NOT EXISTS bench${s}`);
  }
  while (treeBytes(node.datadir) < mib * 1048576) {
    const need = mib * 1048576 - treeBytes(node.datadir);
    const batch = need > 200 * 1048576 ? 2 : 1; // two sessions: both cores generate
    await Promise.all(Array.from({ length: batch }, () => loadTable(cluster, node, tables.next++)));
  }
  await cluster.sql(node, "FLUSH TABLES");
  console.log(
    `  loaded: datadir ${(treeBytes(node.datadir) / 1048576).toFixed(0)} MiB, ${tables.next} ` +
      `tables (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
}

/**
 * How the re-join scenario changes 5 % of the rows: `runs` — runs of 64 neighbouring primary
 * keys, one run every 1280 rows; `spread` — every 20th row.
 */
export type ChangePattern = "runs" | "spread";

/** Rows changed per transaction: write sets of ~230 KiB, as an application's might be. */
export const CHANGE_BATCH_ROWS = 16;

/** The primary keys of a table whose rows `pattern` changes. */
export function changedIds(pattern: ChangePattern): number[] {
  const ids: number[] = [];
  for (let id = 1; id <= TABLE_ROWS; id++) {
    if (pattern === "runs" ? id % 1280 < 64 : id % 20 === 0) ids.push(id);
  }
  return ids;
}

/**
 * Gives 5 % of the rows of every loaded table new random bytes (same length: the rows stay in
 * their pages), replicated, in transactions of {@link CHANGE_BATCH_ROWS} rows: write sets that
 * move the donor's seqno (with `wsrep_on=OFF` the returning node would see no gap at all).
 */
export async function changeRows(cluster: Cluster, node: Node, tables: Tables, p: ChangePattern) {
  const set = Array.from({ length: COLUMNS }, (_, i) => `c${i} = RANDOM_BYTES(1024)`).join(", ");
  const ids = changedIds(p);
  for (let t = 0; t < tables.next; t++) {
    const stmts: string[] = [];
    for (let i = 0; i < ids.length; i += CHANGE_BATCH_ROWS) {
      const batch = ids.slice(i, i + CHANGE_BATCH_ROWS).join(",");
      stmts.push(`UPDATE ${tableName(t)} SET ${set} WHERE id IN (${batch})`);
    }
    await cluster.sql(node, stmts.join(";\n"), 600_000);
  }
}

/**
 * Reads every file of a datadir once. InnoDB writes its tables with O_DIRECT, so after the load
 * they are not in the page cache: without this the first run of a size reads them from disk,
 * and only that run.
 */
export function warmCache(dir: string): void {
  const buf = new Uint8Array(1 << 20);
  for (const path of treeFiles(dir)) {
    using f = Deno.openSync(path);
    while ((f.readSync(buf) ?? 0) > 0) { /* read to the end */ }
  }
}

/** MiB of page cache still to be written to disk (`Dirty` + `Writeback` in /proc/meminfo). */
function unwrittenMiB(): number {
  const info = Deno.readTextFileSync("/proc/meminfo");
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(info)?.[1] ?? 0);
  return (kib("Dirty") + kib("Writeback")) / 1024;
}

/**
 * Every run starts with the disk idle: the previous SST (or the load) left gigabytes of dirty
 * pages, and their writeback would otherwise take CPU from whichever method runs next.
 */
export async function settleWriteback(): Promise<void> {
  const deadline = Date.now() + 300_000;
  await run(denoAdapter, { cmd: "sync", args: [] }, { timeoutMs: 300_000 });
  while (unwrittenMiB() > 32 && Date.now() < deadline) await sleep(200);
  await sleep(1000);
}
