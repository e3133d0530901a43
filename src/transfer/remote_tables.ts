/**
 * Tables whose files live outside the datadir (`CREATE TABLE … DATA DIRECTORY` / `INDEX
 * DIRECTORY`), found in the donor's schema directories before anything is copied.
 *
 * - InnoDB keeps such a table's `.ibd` at the named path and leaves an `.isl` file (one line:
 *   that path) in the schema directory. The `.isl` is all the datadir passes would send: the
 *   joiner's server then starts, and the table fails on every access ("Tablespace is missing
 *   for a table", error 194), or, where the donor's path exists on the joiner's host, opens a
 *   file that is not the donor's copy. So the donor refuses such a data set
 *   ({@link remoteTablespaceMessage}).
 * - MyISAM and Aria leave symbolic links (`.MYD`, `.MYI`, `.MAD`, `.MAI`) in the schema
 *   directory. Every job runs with `--copy-links` (selection.ts), so the joiner receives complete
 *   regular files in its schema directory: the table is whole and usable there (checked with
 *   MariaDB 10.11), it has just moved into the joiner's datadir ({@link linkedFilesMessage}).
 *
 * A server keeps a table's files directly in its schema directory, so only that level is read.
 *
 * @module
 */

/** One file of a table that lives outside the datadir. */
export interface RemoteTableFile {
  /** InnoDB: an `.isl` pointer; MyISAM/Aria: a linked data or index file. */
  engine: "InnoDB" | "MyISAM" | "Aria";
  /** The schema directory's name, as on disk. */
  schema: string;
  /** The table's file name without extension and partition suffix, as on disk. */
  table: string;
  /** `p0` or `p0#SP#sp0` for a partition, else null. */
  partition: string | null;
  /** Where the data lives: the `.isl`'s path, or what the link points to. */
  target: string;
}

/** File name extensions of MyISAM and Aria table files that `DATA/INDEX DIRECTORY` links. */
const LINKED_EXTENSIONS: Record<string, "MyISAM" | "Aria"> = {
  MYD: "MyISAM",
  MYI: "MyISAM",
  MAD: "Aria",
  MAI: "Aria",
};

/** Longest `.isl` content read: a path. */
const MAX_ISL_BYTES = 4096;

/**
 * The table files outside the datadir below `datadir/<name>` for every name in `schemas`
 * (links to schema directories followed): each `.isl`, and each linked MyISAM/Aria file.
 */
export async function findRemoteTableFiles(
  datadir: string,
  schemas: readonly string[],
): Promise<RemoteTableFile[]> {
  const out: RemoteTableFile[] = [];
  for (const schema of schemas) {
    const dir = `${datadir}/${schema}`;
    const entries = await Array.fromAsync(Deno.readDir(dir)).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return []; // dropped meanwhile
      throw e;
    });
    for (const e of entries) {
      const dot = e.name.lastIndexOf(".");
      if (dot <= 0) continue;
      const ext = e.name.slice(dot + 1);
      const { table, partition } = splitPartition(e.name.slice(0, dot));
      const path = `${dir}/${e.name}`;
      if (ext === "isl" && !e.isDirectory) {
        const target = await islTarget(path);
        if (target !== null) out.push({ engine: "InnoDB", schema, table, partition, target });
      } else if (e.isSymlink && ext in LINKED_EXTENSIONS) {
        const target = await Deno.readLink(path).catch(() => null);
        if (target === null) continue;
        const absolute = target.startsWith("/") ? target : `${dir}/${target}`;
        out.push({ engine: LINKED_EXTENSIONS[ext], schema, table, partition, target: absolute });
      }
    }
  }
  return out.sort((a, b) =>
    compare(describeTable(a), describeTable(b)) || compare(a.target, b.target)
  );
}

/** The path an `.isl` file names (its first line), or null when it vanished meanwhile. */
async function islTarget(path: string): Promise<string | null> {
  let text: string;
  try {
    const f = await Deno.open(path);
    try {
      const buf = new Uint8Array(MAX_ISL_BYTES);
      const n = await f.read(buf);
      text = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    } finally {
      f.close();
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return printable(text.split("\n")[0]) || "(empty .isl file)";
}

/** `t#P#p0` → table `t`, partition `p0` (MariaDB's partition file names). */
function splitPartition(base: string): { table: string; partition: string | null } {
  const m = /^(.+?)#[Pp]#(.+)$/.exec(base);
  return m ? { table: m[1], partition: m[2] } : { table: base, partition: null };
}

/** Control characters flattened: a path from a file goes into one log line. */
function printable(s: string): string {
  // deno-lint-ignore no-control-regex -- flattening control characters is the point
  return s.trim().replace(/[\x00-\x1f\x7f]+/g, "?");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `schema.table` or `schema.table partition p0`, file names as on disk. */
export function describeTable(f: RemoteTableFile): string {
  const name = printable(`${f.schema}.${f.table}`);
  return f.partition === null ? name : `${name} partition ${printable(f.partition)}`;
}

/** The tables of `files`, each once, with the paths of their files: `db.t (/a, /b)`. */
function listTables(files: readonly RemoteTableFile[], max = 5): string {
  const byTable = new Map<string, string[]>();
  for (const f of files) {
    byTable.set(describeTable(f), [...(byTable.get(describeTable(f)) ?? []), f.target]);
  }
  const shown = [...byTable].slice(0, max).map(([t, paths]) => `${t} (${paths.join(", ")})`);
  const more = byTable.size > max ? ` (and ${byTable.size - max} more)` : "";
  return shown.join(", ") + more;
}

/**
 * Why the donor refuses to copy a data set with InnoDB tables in other directories, the tables
 * and how to move them into the datadir; null when there are none.
 */
export function remoteTablespaceMessage(files: readonly RemoteTableFile[]): string | null {
  const innodb = files.filter((f) => f.engine === "InnoDB");
  if (innodb.length === 0) return null;
  return "InnoDB table(s) created with DATA DIRECTORY keep their data outside the datadir, " +
    "where an SST does not copy it (the joiner would start without them): " +
    `${listTables(innodb)}; move each into the datadir on the donor (CREATE TABLE t_new LIKE t, ` +
    "which leaves DATA DIRECTORY out; INSERT INTO t_new SELECT * FROM t; " +
    "RENAME TABLE t TO t_old, t_new TO t; DROP TABLE t_old), then start the joiner again";
}

/**
 * What becomes of MyISAM/Aria tables whose files are links to other directories (one WARNING
 * line); null when there are none.
 */
export function linkedFilesMessage(files: readonly RemoteTableFile[]): string | null {
  const linked = files.filter((f) => f.engine !== "InnoDB");
  if (linked.length === 0) return null;
  return "MyISAM/Aria table(s) with DATA/INDEX DIRECTORY files outside the datadir arrive on " +
    "the joiner whole, as regular files in its schema directories (not at these paths; " +
    `SHOW CREATE TABLE there no longer shows the directories): ${listTables(linked)}; ` +
    "to keep them on another disk on the joiner, recreate them there after the SST";
}
