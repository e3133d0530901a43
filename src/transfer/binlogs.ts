/**
 * Binary logs (docs/sst-protocol.md §4 step 6, §5): the donor ships the last `sst-max-binlogs` files named in
 * its index; the joiner, after a full SST, removes its old binary logs and installs the
 * received ones with a rebuilt index.
 *
 * @module
 */
import type { ServerLayout } from "../config/settings.ts";
import * as log from "../core/log.ts";

function dirOf(p: string): string {
  return p.slice(0, p.lastIndexOf("/")) || "/";
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

async function readLines(file: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(file)).split("\n").map((l) => l.trim()).filter((l) => l);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

async function listDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

/** Resolves an index entry (relative entries are relative to the datadir). */
function resolveEntry(layout: ServerLayout, entry: string): string {
  return entry.startsWith("/") ? entry : `${layout.datadir}/${entry.replace(/^\.\//, "")}`;
}

/** Donor: the binlog files to ship (existing, last `max` of the index; negative = all). */
export async function selectBinlogs(layout: ServerLayout, max: number): Promise<string[]> {
  if (!layout.binlogIndex || max === 0) return [];
  const files = (await readLines(layout.binlogIndex)).map((e) => resolveEntry(layout, e));
  const existing: string[] = [];
  for (const f of files) {
    if (await Deno.stat(f).then((s) => s.isFile, () => false)) existing.push(f);
  }
  return max < 0 ? existing : existing.slice(-max);
}

/** How an index entry for `file` is written (as mariadbd does: `./name` under the datadir). */
export function indexEntry(layout: ServerLayout, file: string): string {
  return file.startsWith(layout.datadir + "/")
    ? `./${file.slice(layout.datadir.length + 1)}`
    : file;
}

/** Joiner: removes old binlogs (indexed ones and unindexed `<base>.NNNNNN`) and the index. */
export async function removeOldBinlogs(layout: ServerLayout): Promise<number> {
  if (!layout.binlogBase || !layout.binlogIndex) return 0;
  const victims = new Set(
    (await readLines(layout.binlogIndex)).map((e) => resolveEntry(layout, e)),
  );
  const dir = dirOf(layout.binlogBase);
  const prefix = baseName(layout.binlogBase) + ".";
  for (const name of await listDir(dir)) {
    if (name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length))) {
      victims.add(`${dir}/${name}`);
    }
  }
  for (const v of victims) await Deno.remove(v).catch(() => {});
  await Deno.remove(layout.binlogIndex).catch(() => {});
  return victims.size;
}

/** Joiner: moves staged binlogs into place and writes a new index, oldest first. */
export async function installBinlogs(layout: ServerLayout, staging: string): Promise<string[]> {
  if (!layout.binlogBase || !layout.binlogIndex) return [];
  const dir = dirOf(layout.binlogBase);
  const names: string[] = [];
  for await (const e of Deno.readDir(staging)) {
    // The donor's base name may differ from ours (log_basename is per node): keep its names.
    if (e.isFile && /^[^/]+\.\d+$/.test(e.name)) {
      names.push(e.name);
    } else {
      log.warn(`ignoring unexpected file ${e.name} among the received binary logs`);
    }
  }
  const seq = (n: string) => Number(n.slice(n.lastIndexOf(".") + 1));
  names.sort((a, b) => seq(a) - seq(b) || a.localeCompare(b));
  for (const n of names) await Deno.rename(`${staging}/${n}`, `${dir}/${n}`);
  const entries = names.map((n) => indexEntry(layout, `${dir}/${n}`));
  await Deno.writeTextFile(layout.binlogIndex, entries.map((e) => e + "\n").join(""));
  return names;
}
