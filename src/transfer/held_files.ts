/**
 * What a joiner already holds where the SST writes: the files the donor's jobs would write over
 * (the engine file sets in their directories, the files of the datadir's schema directories),
 * found with the donor's own job definitions (passes.ts) applied to the joiner's layout, so that
 * each file has the module and relative path the donor's copy of it has.
 *
 * It decides two things. Whether the joiner holds an earlier copy of a data set (an old datadir,
 * or what an interrupted SST left), which it tells the donor in its `ready` address so that
 * `[sst] delta=auto` compares against it (config/delta.ts); and, per file, what the donor's
 * copy needs only to grow (joiner_space.ts): rsync writes every file in place (`--inplace`).
 *
 * @module
 */
import type { ServerLayout } from "../config/settings.ts";
import type { JoinerCopy } from "../core/address.ts";
import { engineFileJobs, listSchemaDirs, type RsyncJob, schemaJobs } from "./passes.ts";
import { TreeWalk } from "./selection.ts";

/** Schema directories every server has: their tables are no data set of the user's. */
export const SYSTEM_SCHEMAS: readonly string[] = ["mysql", "performance_schema", "sys"];

/**
 * The least the joiner must hold in files of its other schema directories to hold an earlier
 * copy. A fresh datadir (`mariadb-install-db`) holds none; one table of a data set is 64 KiB or
 * more, a data set worth comparing far more.
 */
export const COPY_MIN_BYTES = 1024 ** 2;

/** One file the joiner holds, as the donor's jobs name it. */
export interface HeldFile {
  /** The rsync module the donor's copy of it arrives through. */
  module: string;
  /** Its path in that module. */
  rel: string;
  /** Its length. */
  size: number;
  /** The bytes it occupies on disk (its length for a file system that does not say). */
  allocated: number;
  /** Its modification time (ms since the epoch; 0 when the file system does not say). */
  modified?: number;
}

/** What the joiner holds. */
export interface Holdings {
  files: HeldFile[];
  /** Bytes of all of them. */
  bytes: number;
  /** Bytes in the schema directories other than {@link SYSTEM_SCHEMAS}. */
  userBytes: number;
  /** Those schema directories that hold files. */
  userSchemas: string[];
}

/** Lists what the joiner with `layout` holds where the SST writes. */
export async function heldFiles(layout: ServerLayout): Promise<Holdings> {
  const walk = new TreeWalk();
  const dirs = await listSchemaDirs(layout, walk);
  const jobs: RsyncJob[] = [...engineFileJobs(layout), ...schemaJobs(layout, dirs, 1)];
  const files: HeldFile[] = [];
  for (const job of jobs) {
    for (const f of await walk.files(job.selection, job.sources)) {
      const allocated = f.info.blocks === null ? f.info.size : f.info.blocks * 512;
      const modified = f.info.mtime?.getTime() ?? 0;
      files.push({ module: job.module, rel: f.rel, size: f.info.size, allocated, modified });
    }
  }
  const schemaOf = (rel: string) => rel.slice(0, rel.indexOf("/"));
  const user = files.filter((f) =>
    f.rel.includes("/") && !SYSTEM_SCHEMAS.includes(schemaOf(f.rel)) && !f.rel.endsWith("/db.opt")
  );
  return {
    files,
    bytes: files.reduce((n, f) => n + f.size, 0),
    userBytes: user.reduce((n, f) => n + f.size, 0),
    userSchemas: [...new Set(user.map((f) => schemaOf(f.rel)))].sort(),
  };
}

/** Whether `after` differs from `before` (a file added, removed, resized or written). */
export function holdingsChanged(before: Holdings, after: Holdings): boolean {
  const key = (f: HeldFile) => `${f.module}\0${f.rel}\0${f.size}\0${f.modified ?? 0}`;
  const was = new Set(before.files.map(key));
  return after.files.length !== before.files.length || after.files.some((f) => !was.has(key(f)));
}

/**
 * What the joiner tells the donor: an earlier copy when its own schema directories hold at
 * least {@link COPY_MIN_BYTES} of table files (a fresh or empty datadir holds none), or when an
 * SST to it did not complete (`incomplete`: that SST's mark, sst/incomplete_mark.ts) and it
 * holds any file where the SST writes.
 */
export function copyOf(h: Holdings, incomplete: string | null = null): JoinerCopy {
  const copy = h.userBytes >= COPY_MIN_BYTES || (incomplete !== null && h.bytes > 0);
  return copy ? { kind: "copy", mib: Math.floor(h.bytes / 1024 ** 2) } : { kind: "none" };
}

/**
 * One line for the joiner's log: what it holds, whether an SST to it did not complete
 * (`incomplete`, see {@link copyOf}), and what it tells the donor.
 */
export function describeHoldings(
  h: Holdings,
  c: JoinerCopy,
  incomplete: string | null = null,
): string {
  const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;
  switch (c.kind) {
    case "copy":
      return `this node holds an earlier copy: ${mib(h.bytes)} where the SST writes, ` +
        `${mib(h.userBytes)} of it in ${h.userSchemas.length} schema(s)` +
        (h.userSchemas.length > 0
          ? ` (${h.userSchemas.slice(0, 5).join(", ")}${h.userSchemas.length > 5 ? ", …" : ""})`
          : "") +
        (incomplete === null
          ? ", an old datadir or what an interrupted SST left"
          : `, what an interrupted SST left (${incomplete || "it left its mark"})`) +
        "; told to the donor (with [sst] delta=auto it compares every file and sends only " +
        "what is missing or differs)";
    case "none":
      return `this node holds no earlier copy (${mib(h.bytes)} where the SST writes, ` +
        `${mib(h.userBytes)} in schemas of its own data); told to the donor ` +
        "(with [sst] delta=auto it sends whole files)";
  }
}
