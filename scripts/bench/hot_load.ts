/**
 * `bench:stall --load sysbench`: a data set of cold and hot tables on node1, and the OLTP load
 * that keeps the hot ones hot during every SST.
 *
 * - cold: the benchmark's incompressible tables (scripts/bench/data.ts `growData`), cooled
 *   before the load starts;
 * - hot: sysbench `oltp_write_only` tables (`sbtest.sbtest1…N`, scripts/lib/sysbench.ts) sized
 *   to the asked MiB, written at 100 transactions/s on uniformly random rows from before the
 *   data set's first counted SST until after its last.
 *
 * Each data set starts from none: the previous one's tables are dropped. node2 is stopped while
 * the tables load (nothing to replicate: every SST wipes it).
 *
 * @module
 */
import { type Bench } from "./lab.ts";
import { growData, type Tables } from "./data.ts";
import type { DataSet } from "./options.ts";
import { treeBytes } from "../bench_common.ts";
import {
  SYSBENCH_DB,
  sysbenchPrepare,
  type SysbenchRate,
  type SysbenchTables,
} from "../lib/sysbench.ts";

/** The load during the SSTs: 100 transactions/s, uniformly random rows. */
export const HOT_RATE: SysbenchRate = { rate: 100, threads: 4, randType: "uniform" };

/** Bytes a sysbench row takes on disk (row and secondary index, InnoDB's 16 KiB pages). */
const ROW_BYTES = 280;

/** sysbench tables of about `hotMiB` MiB: 2 to 8 tables of at least 64 MiB each. */
export function hotShape(hotMiB: number): SysbenchTables {
  const tables = Math.max(2, Math.min(8, Math.floor(hotMiB / 64)));
  return { tables, rows: Math.max(1000, Math.round(hotMiB * 1048576 / tables / ROW_BYTES)) };
}

/** `1 GiB cold + 1 GiB hot` (MiB below 1 GiB). */
export function dataSetLabel(set: DataSet): string {
  const size = (mib: number) => mib >= 1024 ? `${+(mib / 1024).toFixed(2)} GiB` : `${mib} MiB`;
  return set.coldMiB > 0
    ? `${size(set.coldMiB)} cold + ${size(set.hotMiB)} hot`
    : `${size(set.hotMiB)} hot`;
}

/** Drops the previous data set's tables on node1 (node2 stopped: nothing replicates). */
async function dropData(b: Bench, tables: Tables): Promise<void> {
  await b.cluster.stop(b.n2);
  const schemas = await b.cluster.sql(b.n1, "SHOW DATABASES");
  for (const [name] of schemas) {
    if (/^bench\d+$/.test(name) || name === SYSBENCH_DB) {
      await b.cluster.sql(b.n1, `DROP DATABASE ${name}`, 600_000);
    }
  }
  tables.next = 0;
}

/** Loads `set` on node1 (cold, then hot tables); returns the sysbench tables' shape. */
export async function loadDataSet(b: Bench, set: DataSet, tables: Tables) {
  await dropData(b, tables);
  if (set.coldMiB > 0) {
    await growData(b.cluster, b.n1, treeBytes(b.n1.datadir) / 1048576 + set.coldMiB, tables);
  }
  const shape = hotShape(set.hotMiB);
  const t0 = Date.now();
  await sysbenchPrepare(b.cluster, b.n1, shape, 2);
  await b.cluster.sql(b.n1, "FLUSH TABLES");
  const mib = treeBytes(`${b.n1.datadir}/${SYSBENCH_DB}`) / 1048576;
  console.log(
    `  sysbench tables: ${shape.tables} × ${shape.rows} rows, ${mib.toFixed(0)} MiB ` +
      `(${((Date.now() - t0) / 1000).toFixed(0)} s)`,
  );
  return shape;
}
