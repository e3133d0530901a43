/**
 * The private snapshot directories that hold copy-on-write clones of the frozen files, and how
 * the clone pass (issue 24; transfer/clone_pass.ts, wired into src/sst/donor.ts) uses them.
 *
 * Where: one per file system (st_dev) that holds a part of the data set (datadir, InnoDB data
 * home, redo, undo, Aria log, binlog directory), inside the shallowest part directory on it,
 * named `#sql-wsrep_sst_snapshot.<pid>-<start time>` ({@link SNAPSHOT_PREFIX}). A clone must be
 * on its source's file system, and the server's own directories are the only places there that
 * the user mariadbd runs as can surely write (a sibling of `/var/lib/mysql` would need `/var/lib`,
 * root's). mariadbd lists every directory of the datadir as a database, dot-directories too
 * (`#mysql50#.name`), except names that start with `#sql` (its temporary-file prefix): such a
 * directory is in neither `SHOW DATABASES` nor `information_schema.SCHEMATA` and `USE` refuses it
 * (test/integration/snapshot_dir_test.ts checks it on a real server; test/e2e/clone_pass_test.ts
 * samples both during real SSTs). InnoDB, Aria and the binary log open their files by name and
 * never list these directories.
 *
 * The clone pass, line for line as implemented:
 *
 * - before `flush tables` (and before a pre-copy), clone_pass.ts `prepareClones`: with any
 *   `[sst] clone`, {@link sweepStaleSnapshots} removes the snapshot directories of donors that
 *   were killed (owner PID and start time no longer running, our uid), one INFO line each; unless
 *   `off`, {@link SnapshotDirs.create} makes this run's, mode 0700, and registers their removal
 *   on the SST's scope, so every exit path but SIGKILL removes them;
 * - `probeClones` (clone_probe.ts) checks the floor and clones a small file in each of them and
 *   decides per file system and part: `clone` or the locked pass; one INFO line for every part
 *   (`off`: every part the locked pass, the same line); `on` refuses (ConfigError, before
 *   `flush tables`) when a part cannot clone; when no part clones, the directories go at once;
 * - under the lock, after `tables_flushed`, clone_pass.ts `cloneUnderLock`: `checkFloor`
 *   (space_guard.ts) again on each clone file system (below it: a WARNING, its parts go to the
 *   locked pass); then per job of the locked plan, with exactly the files the locked pass would
 *   read (copy_plan.ts `lockedReads`: the same selection and walker; with a pre-copy, those its
 *   record cannot vouch for), {@link SnapshotDirs.mirror} makes the job's source directories
 *   (every directory below a schema directory, empty ones too) and {@link SnapshotDirs.cloneAll}
 *   clones the files to `<snapshot>/<part key>/<the same relative name>`, each with its
 *   source's size, content, owner, group, mode and times (src/proc/ficlone.ts); links are
 *   followed, as rsync's `--copy-links` does; directories get their source directory's owner,
 *   group and mode;
 * - files that cannot be cloned (under a link to another file system, a btrfs nodatacow file,
 *   an owner we cannot give, a name that is not UTF-8), the parts that use the locked pass and
 *   the `otherTrees` job are sent by a locked pass, still under the lock: a job is split by
 *   `--exclude-from` lists (the clone pass leaves out what the locked pass sends and the other
 *   way round, so neither deletes the other's files), or sent whole by the locked pass when a
 *   name has no exact rule; the structure pass goes with the clone pass only when every schema
 *   directory is mirrored. A full file system or any other failure fails the SST there (the
 *   scope drops the clones);
 * - `watchSpace` starts once the clones exist; `continue` once the locked pass (if any) has sent
 *   its files; the completion record and GTID are the ones read under the lock, as today;
 * - the clone pass (pass.ts `clone`): rsync's source is `root(part)/…` instead of the part's
 *   directory, with the same module, path, names and options (`--copy-links`); each clone is
 *   deleted as soon as the rsync that sent it ended cleanly;
 * - the watcher runs until the clone pass has ended, then the snapshot directories are removed;
 *   when it fires, every clone is deleted at once and the SST stops with its CloneSpaceError
 *   (exit 28): space returns before mariadbd needs it;
 * - every other pass (hot pre-copy, structure, locked, schema and engine jobs: selection.ts
 *   `SNAPSHOT_EXCLUDE`), the walker that counts bytes, lists schema directories and feeds the
 *   pre-copy record, the joiner's held-files and space report, and the joiner's daemon-side
 *   excludes (layout_files.ts `datadirDaemonExcludes`) leave out `#sql-wsrep_sst_snapshot.*` at
 *   any depth, so a snapshot directory is never read by the pre-copy nor sent to the joiner;
 * - the log splits the lock: `donor writes blocked for N s (mariadbd's flush M s, clones K s
 *   for F files)` (N from `flush tables` to `continue`, M to `tables_flushed`), K and F from
 *   {@link CloneRun} (K: the whole clone step under the lock), `, locked pass L s` added when one
 *   ran; the donor's totals line (sst_totals.ts) ends with the same figures.
 *
 * @module
 */
import { SstError } from "../core/errors.ts";
import { fsFailure } from "../core/fs_errors.ts";
import * as log from "../core/log.ts";
import { cloneFile, fileMeta } from "../proc/ficlone.ts";
import { isSameProcessAlive, processStartTime } from "../proc/liveness.ts";
import { statxTimes } from "../proc/statx.ts";
import { Stopwatch } from "../proc/wait.ts";

import { SNAPSHOT_PREFIX } from "./selection.ts";

/** The name prefix of a snapshot directory; mariadbd hides names that start with `#sql`. */
export { SNAPSHOT_PREFIX };

/** The setting named in environment errors of the clone pass. */
const SETTING = "[sst] clone";

/** What undoes a snapshot directory on every exit path (src/sst/scope.ts's Scope fits). */
export interface CleanupRegistry {
  defer(label: string, fn: () => void | Promise<void>): void;
}

/** One part of the data set: a directory the passes send from. */
export interface ClonePart {
  /** The clone root's name in the snapshot directory: lower-case letters, digits, `-`. */
  key: string;
  /** How the log names it: `datadir`, `redo log`, … */
  label: string;
  /** Absolute path of the directory. */
  dir: string;
}

/** A snapshot directory: one per file system. */
export interface SnapshotFs {
  /** `major:minor` of the file system. */
  dev: string;
  /** The snapshot directory. */
  path: string;
  /** The part directory it lives in. */
  home: string;
  /** The parts on this file system. */
  parts: ClonePart[];
  /** Why it could not be made (then `path` does not exist and nothing clones there). */
  unusable?: string;
}

/** A file to clone: `rel` below its part's directory (the name the passes send it under). */
export interface CloneRequest {
  part: string;
  rel: string;
}

/** A clone that exists. */
export interface ClonedFile extends CloneRequest {
  /** The clone's path. */
  path: string;
  /** The server's file it was cloned from. */
  source: string;
  size: bigint;
  /** How long its clone took (under the lock). */
  seconds: number;
}

/** A file left to the locked pass, and why. */
export interface UnclonedFile extends CloneRequest {
  errno: string;
  reason: string;
}

/** What {@link SnapshotDirs.cloneAll} did. */
export interface CloneRun {
  cloned: ClonedFile[];
  uncloned: UnclonedFile[];
  /** Bytes of the cloned files. */
  bytes: bigint;
  /** Wall time of the whole run. */
  seconds: number;
}

/** `clones 0.04 s for 312 files` (the lock line's part). */
export function cloneSummary(run: CloneRun): string {
  return `clones ${run.seconds.toFixed(2)} s for ${run.cloned.length} files`;
}

/** `major:minor` of the file system of `path` (links followed), or null. */
export function deviceOf(path: string): string | null {
  const st = statxTimes(path);
  return st ? `${st.devMajor}:${st.devMinor}` : null;
}

/** `<SNAPSHOT_PREFIX><pid>-<start time>` of this process. */
export function ownSnapshotName(): string {
  return `${SNAPSHOT_PREFIX}${Deno.pid}-${processStartTime(Deno.pid) ?? "0"}`;
}

const OWNER_RE = /^(\d+)-(\d+)$/;

/** Whether the donor that made snapshot directory `name` still runs (by PID and start time). */
export function snapshotOwnerAlive(name: string): boolean {
  const m = OWNER_RE.exec(name.slice(SNAPSHOT_PREFIX.length));
  if (!m) return true; // not a name we make: never touched
  if (Number(m[1]) === Deno.pid) return true;
  return isSameProcessAlive(Number(m[1]), m[2]);
}

/**
 * Removes, from each directory of `dirs`, the snapshot directories left by donors that were
 * killed (SIGKILL skips every cleanup): our uid, owner no longer running. One INFO line each.
 * Returns their paths.
 */
export async function sweepStaleSnapshots(dirs: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  const uid = Deno.uid();
  for (const dir of new Set(dirs)) {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.isDirectory && e.name.startsWith(SNAPSHOT_PREFIX)) names.push(e.name);
      }
    } catch { /* an unreadable part directory: the passes report it */ }
    for (const name of names) {
      if (snapshotOwnerAlive(name)) continue;
      const path = `${dir}/${name}`;
      const st = await Deno.lstat(path).catch(() => null);
      if (!st || st.uid !== uid) continue;
      await Deno.remove(path, { recursive: true });
      log.info(
        `removed snapshot directory ${path} left by a killed SST (pid ` +
          `${name.slice(SNAPSHOT_PREFIX.length).split("-")[0]}); its clones held space there`,
      );
      removed.push(path);
    }
  }
  return removed;
}

function depth(dir: string): number {
  return dir.split("/").filter((c) => c !== "").length;
}

/** Checks a relative name: no empty, `.` or `..` component, UTF-8. Returns why not, or null. */
function badRel(rel: string): string | null {
  if (rel.includes("\uFFFD")) return "its name is not UTF-8";
  if (rel.split("/").some((c) => c === "" || c === "." || c === "..")) {
    return "its name is not a plain relative path";
  }
  return null;
}

/** The snapshot directories of one SST. */
export class SnapshotDirs {
  readonly #byDev: Map<string, SnapshotFs>;
  readonly #parts: Map<string, { part: ClonePart; fs: SnapshotFs }>;
  /** Clone directories made so far: path → why files below cannot go there (null: fine). */
  readonly #dirs = new Map<string, string | null>();

  private constructor(fss: SnapshotFs[]) {
    this.#byDev = new Map(fss.map((f) => [f.dev, f]));
    this.#parts = new Map(fss.flatMap((fs) => fs.parts.map((part) => [part.key, { part, fs }])));
  }

  /**
   * Sweeps stale snapshot directories from the parts' directories, then makes one snapshot
   * directory (0700) per file system of `parts`, and registers their removal on `cleanup`. A
   * file system where it cannot be made is kept with {@link SnapshotFs.unusable}.
   */
  static async create(
    parts: readonly ClonePart[],
    cleanup: CleanupRegistry,
  ): Promise<SnapshotDirs> {
    const keys = new Set<string>();
    for (const p of parts) {
      if (!/^[a-z0-9-]+$/.test(p.key) || keys.has(p.key)) throw new Error(`bad part key ${p.key}`);
      keys.add(p.key);
    }
    await sweepStaleSnapshots(parts.map((p) => p.dir));
    const groups = new Map<string, ClonePart[]>();
    for (const p of parts) {
      const dev = deviceOf(p.dir);
      if (dev === null) {
        throw fsFailure(new Deno.errors.NotFound(p.dir), { path: p.dir, doing: "read" });
      }
      groups.set(dev, [...(groups.get(dev) ?? []), p]);
    }
    const dirs = new SnapshotDirs(
      [...groups].map(([dev, ps]) => {
        const home = ps.map((p) => p.dir).reduce((a, b) => depth(b) < depth(a) ? b : a);
        return { dev, home, parts: ps, path: `${home}/${ownSnapshotName()}` };
      }),
    );
    cleanup.defer("remove the snapshot directories", () => dirs.removeAll());
    for (const fs of dirs.fileSystems) await makeSnapshotDir(fs);
    return dirs;
  }

  /** Every file system, in the order of the parts. */
  get fileSystems(): SnapshotFs[] {
    return [...this.#byDev.values()];
  }

  /** The snapshot directory of part `key`'s file system. */
  fsOf(key: string): SnapshotFs {
    const e = this.#parts.get(key);
    if (!e) throw new Error(`no part ${key}`);
    return e.fs;
  }

  /** Where part `key`'s clones go, with the part's relative names: the clone pass's source. */
  root(key: string): string {
    return `${this.fsOf(key).path}/${key}`;
  }

  /** Removes the snapshot directory of file system `dev` (one that will not clone). */
  async drop(dev: string): Promise<void> {
    const fs = this.#byDev.get(dev);
    if (!fs || fs.unusable) return;
    await Deno.remove(fs.path, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    fs.unusable = "dropped";
  }

  /** Removes every snapshot directory (registered on the scope; idempotent). */
  async removeAll(): Promise<void> {
    for (const fs of this.#byDev.values()) await this.drop(fs.dev);
  }

  /**
   * Clones every file of `requests` (links followed) into its part's root, under the same
   * relative name. A file that cannot be cloned lands in `uncloned` with the reason (nothing is
   * left of it); ENOSPC, EDQUOT and the other environment errors throw their {@link SstError};
   * anything else is a bug and throws.
   */
  cloneAll(requests: readonly CloneRequest[]): CloneRun {
    const clock = new Stopwatch();
    const run: CloneRun = { cloned: [], uncloned: [], bytes: 0n, seconds: 0 };
    for (const r of requests) {
      const out = this.#cloneOne(r);
      if ("path" in out) {
        run.cloned.push(out);
        run.bytes += out.size;
      } else run.uncloned.push(out);
    }
    run.seconds = clock.elapsed() / 1000;
    return run;
  }

  #cloneOne(r: CloneRequest): ClonedFile | UnclonedFile {
    const { part, fs } = this.#parts.get(r.part) ?? {};
    if (!part || !fs) throw new Error(`no part ${r.part}`);
    if (fs.unusable) return { ...r, errno: "ENOENT", reason: "its file system does not clone" };
    const bad = badRel(r.rel);
    if (bad) return { ...r, errno: "EINVAL", reason: bad };
    const source = `${part.dir}/${r.rel}`;
    const dest = `${fs.path}/${r.part}/${r.rel}`;
    try {
      const blocked = this.#mirrorDirs(part, r.rel);
      if (blocked) return { ...r, errno: "EPERM", reason: blocked };
      const clock = new Stopwatch();
      const result = cloneFile(source, dest);
      switch (result.kind) {
        case "cloned":
          return { ...r, path: dest, source, size: result.size, seconds: clock.elapsed() / 1000 };
        case "cannot-clone":
          return { ...r, errno: result.errno, reason: result.reason };
      }
    } catch (e) {
      throw fsFailure(e, { path: source, doing: `clone into ${fs.path}`, setting: SETTING });
    }
  }

  /**
   * Makes directory `relDir` below part `key`'s clone root (`""`: the root itself), and those on
   * the way, with the owner, group and mode of their source directories: a directory rsync
   * creates on the joiner even when no file in it is cloned. Returns why it cannot (then no
   * file below it can be sent from the clones), or null.
   */
  mirror(key: string, relDir: string): string | null {
    const { part, fs } = this.#parts.get(key) ?? {};
    if (!part || !fs) throw new Error(`no part ${key}`);
    if (fs.unusable) return "its file system does not clone";
    const bad = relDir === "" ? null : badRel(relDir);
    if (bad) return bad;
    try {
      return this.#mirrorDirs(part, relDir === "" ? "-" : `${relDir}/-`);
    } catch (e) {
      throw fsFailure(e, { path: `${part.dir}/${relDir}`, doing: "mirror", setting: SETTING });
    }
  }

  /**
   * Makes the clone directories on the way to `rel` with the owner, group and mode of their
   * source directories (rsync `--perms --owner --group` sends them). Returns why files there
   * cannot be cloned (an owner we may not give), or null.
   */
  #mirrorDirs(part: ClonePart, rel: string): string | null {
    const root = `${this.fsOf(part.key).path}/${part.key}`;
    const comps = rel.split("/").slice(0, -1);
    for (let i = 0; i <= comps.length; i++) {
      const sub = comps.slice(0, i).join("/");
      const path = sub ? `${root}/${sub}` : root;
      if (!this.#dirs.has(path)) {
        this.#dirs.set(path, mirrorDir(sub ? `${part.dir}/${sub}` : part.dir, path));
      }
      const why = this.#dirs.get(path);
      if (why) return why;
    }
    return null;
  }

  /** Deletes clone `file` once it was sent: its blocks stop holding space. */
  async release(file: ClonedFile): Promise<void> {
    await Deno.remove(file.path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
}

/** Makes `dest` with the owner, group and mode of directory `source`; returns why not, or null. */
function mirrorDir(source: string, dest: string): string | null {
  const meta = fileMeta(source);
  Deno.mkdirSync(dest, { mode: 0o700 });
  const own = Deno.statSync(dest);
  if (own.uid !== meta.uid || own.gid !== meta.gid) {
    try {
      Deno.chownSync(dest, meta.uid, meta.gid);
    } catch (e) {
      if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
      return `its directory ${source} is owned by uid ${meta.uid} gid ${meta.gid}, which a ` +
        `directory made by uid ${own.uid} cannot be given`;
    }
  }
  Deno.chmodSync(dest, meta.mode & 0o7777);
  return null;
}

async function makeSnapshotDir(fs: SnapshotFs): Promise<void> {
  try {
    await Deno.mkdir(fs.path, { mode: 0o700 });
    await Deno.chmod(fs.path, 0o700);
  } catch (e) {
    const failure = fsFailure(e, {
      path: fs.path,
      doing: "create the snapshot directory",
      setting: SETTING,
    });
    if (!(failure instanceof SstError)) throw failure;
    fs.unusable = `cannot create the snapshot directory: ${failure.message}`;
    return;
  }
  const dev = deviceOf(fs.path);
  if (dev !== fs.dev) {
    fs.unusable = `the snapshot directory ${fs.path} is on device ${dev}, not ${fs.dev}`;
    await Deno.remove(fs.path, { recursive: true });
  }
}
