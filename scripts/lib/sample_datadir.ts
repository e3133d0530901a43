/**
 * Generated datadirs with the MariaDB 10.11 layout (optionally with separate InnoDB, undo,
 * Aria and binlog directories), and the comparison that says whether a joiner received
 * exactly what an SST must transfer (docs/sst-protocol.md §5).
 *
 * @module
 */
import type { ServerLayout } from "../../src/config/settings.ts";

/** Where the sample puts things; relative names are under the datadir. */
export interface SampleLayoutOptions {
  root: string;
  /**
   * Put InnoDB/undo/Aria/binlog files in separate directories: outside the datadir (true), or
   * in subdirectories of it (`"inside"`: `<datadir>/ibdata`, `redo`, `undo`, `aria`, `binlog`).
   */
  separateDirs?: boolean | "inside";
  binlog?: boolean;
  /** Rough size of the biggest table file, bytes. */
  bigTableBytes?: number;
  /** Extra suffix for names (to build donor and joiner side by side). */
  name: string;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

async function put(path: string, size: number, seed: number): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(path, randomBytes(size, seed));
}

/** The layout a sample node uses. */
export function sampleLayout(o: SampleLayoutOptions): ServerLayout {
  const dd = `${o.root}/${o.name}/data`;
  const sep = (sub: string) =>
    o.separateDirs === "inside"
      ? `${dd}/${sub}`
      : o.separateDirs
      ? `${o.root}/${o.name}/${sub}`
      : dd;
  return {
    datadir: dd,
    innodbDataHomeDir: sep("ibdata"),
    innodbLogGroupHomeDir: sep("redo"),
    innodbUndoDirectory: sep("undo"),
    ariaLogDirPath: sep("aria"),
    binlogBase: o.binlog ? `${sep("binlog")}/mysql-bin` : undefined,
    binlogIndex: o.binlog ? `${sep("binlog")}/mysql-bin.index` : undefined,
  };
}

/** Creates a donor-like datadir with data, system files, and files that must not travel. */
export async function makeSampleDatadir(o: SampleLayoutOptions, seed = 1): Promise<ServerLayout> {
  const l = sampleLayout(o);
  const big = o.bigTableBytes ?? 4 * 1024 * 1024;
  await put(`${l.innodbDataHomeDir}/ibdata1`, 1024 * 1024, seed + 1);
  await put(`${l.innodbLogGroupHomeDir}/ib_logfile0`, 512 * 1024, seed + 2);
  for (let i = 1; i <= 3; i++) {
    await put(`${l.innodbUndoDirectory}/undo00${i}`, 64 * 1024, seed + 10 + i);
  }
  await put(`${l.ariaLogDirPath}/aria_log_control`, 52, seed + 3);
  await put(`${l.ariaLogDirPath}/aria_log.00000001`, 16 * 1024, seed + 4);
  for (const t of ["user", "db", "proxies_priv", "global_priv"]) {
    await put(`${l.datadir}/mysql/${t}.MAI`, 8192, seed + t.length);
    await put(`${l.datadir}/mysql/${t}.MAD`, 4096, seed + t.length + 1);
    await put(`${l.datadir}/mysql/${t}.frm`, 1024, seed + t.length + 2);
  }
  await put(`${l.datadir}/shop/db.opt`, 60, seed + 5);
  await put(`${l.datadir}/shop/orders.ibd`, big, seed + 6);
  await put(`${l.datadir}/shop/orders.frm`, 900, seed + 7);
  await put(`${l.datadir}/shop/sub/nested.dat`, 100, seed + 8);
  await put(`${l.datadir}/lost@002bfound/t.ibd`, 1000, seed + 9);
  // Never transferred (docs/sst-protocol.md §5):
  for (
    const f of [
      "grastate.dat",
      "gvwstate.dat",
      "galera.cache",
      "ib_buffer_pool",
      "node.err",
      "node.pid",
    ]
  ) {
    await put(`${l.datadir}/${f}`, 100, seed + f.length);
  }
  if (l.binlogBase) {
    const names = [1, 2, 3].map((i) => `mysql-bin.00000${i}`);
    for (const [i, n] of names.entries()) {
      await put(`${l.binlogBase.replace(/mysql-bin$/, n)}`, 2000, seed + 20 + i);
    }
    // As mariadbd writes them: relative to the datadir when inside it.
    const entry = (n: string) => {
      const path = l.binlogBase!.replace(/mysql-bin$/, n);
      return path.startsWith(l.datadir + "/") ? `./${path.slice(l.datadir.length + 1)}` : path;
    };
    await Deno.writeTextFile(l.binlogIndex!, names.map((n) => entry(n) + "\n").join(""));
  }
  return l;
}

/** A file tree as relative path → content digest. */
export async function treeDigest(
  dir: string,
  filter: (rel: string) => boolean = () => true,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(rel: string) {
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(r);
      else if (e.isFile && filter(r)) {
        const data = await Deno.readFile(`${dir}/${r}`);
        const h = await crypto.subtle.digest("SHA-256", data);
        out.set(r, [...new Uint8Array(h)].map((b) => b.toString(16).padStart(2, "0")).join(""));
      }
    }
  }
  await walk("");
  return out;
}

/**
 * Top-level files of a datadir that the joiner legitimately does not get from the donor, each
 * by name and why: Galera's own state (grastate.dat, gvwstate.dat, galera.cache), the buffer
 * pool dump (ib_buffer_pool), each server's error log and pid file (`*.err`, `*.pid`), and the
 * SST's own markers (`sst_in_progress`, `wsrep_sst_rsync_tunnel.incomplete`, the lock `wsrep_sst.pid`, the completion record
 * `sst_complete`). The sample's binary logs (`mysql-bin.*`) are not compared here either: only
 * the last `sst-max-binlogs` of them travel, with an index rebuilt for the joiner, so they are
 * no copy of the donor's set (the binlog tests check them on their own).
 */
export const NOT_DELIVERED_TOP_LEVEL: readonly RegExp[] = [
  /^grastate\.dat$/,
  /^gvwstate\.dat$/,
  /^galera\.cache$/,
  /^ib_buffer_pool$/,
  /^[^/]*\.err$/,
  /^[^/]*\.pid$/,
  /^sst_in_progress$/,
  /^wsrep_sst_rsync_tunnel\.incomplete$/,
  /^sst_complete$/,
  /^mysql-bin\.(\d+|index)$/,
];

/**
 * Files of a datadir that an SST delivers: every file in a schema (or engine) subdirectory and
 * every top-level file — `ibdata*`, `ib_logfile0`, `undo*`, `aria_log_control`, `aria_log.*`,
 * binary logs — except those named in {@link NOT_DELIVERED_TOP_LEVEL}. A top-level file of
 * neither kind is compared too: an unexpected one on either side is a difference.
 */
export function isTransferredDatadirFile(rel: string): boolean {
  if (rel.includes("/")) return true;
  return !NOT_DELIVERED_TOP_LEVEL.some((re) => re.test(rel));
}

/** Differences between two digests (missing, extra, changed), as readable lines. */
export function diffDigests(expected: Map<string, string>, actual: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of expected) {
    if (!actual.has(k)) out.push(`missing ${k}`);
    else if (actual.get(k) !== v) out.push(`differs ${k}`);
  }
  for (const k of actual.keys()) if (!expected.has(k)) out.push(`unexpected ${k}`);
  return out;
}
