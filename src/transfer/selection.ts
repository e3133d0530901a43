/**
 * What one rsync job sends, as data. The job's rsync filter options and the bytes counted for
 * its progress both come from its {@link Selection}, so the two cannot disagree; there is one
 * glob dialect ({@link globToRegExp}) and one walker ({@link TreeWalk}).
 *
 * Links: every job runs with `--copy-links`, so the joiner receives what a link points to,
 * never the link (a schema directory linked to another disk on the donor arrives as a
 * directory). The walker follows links the same way, and reports the two things rsync could not
 * copy that way: a link to nothing, and a directory link back to one of its own ancestors.
 *
 * @module
 */
import { fsFailure } from "../core/fs_errors.ts";
import { rawDirNames, utf8Name, withRawDir } from "../proc/raw_dir.ts";

/**
 * The name prefix of the donor's snapshot directories (transfer/snapshot_dir.ts): clones of the
 * frozen files, inside the server's own directories. No pass reads or sends one, at any depth
 * ({@link SNAPSHOT_EXCLUDE}); the walker does not count one ({@link TreeWalk}).
 */
export const SNAPSHOT_PREFIX = "#sql-wsrep_sst_snapshot.";

/**
 * The rsync rule that leaves every snapshot directory out, at any depth (one path component,
 * directories only). `[#]`: a rule file (the joiner's daemon `exclude from`) reads a line that
 * starts with `#` as a comment.
 */
export const SNAPSHOT_RULE = "[#]sql-wsrep_sst_snapshot.*/";

/** {@link SNAPSHOT_RULE} as an rsync option. */
export const SNAPSHOT_EXCLUDE = `--exclude=${SNAPSHOT_RULE}`;

/** Whether a directory entry named `name` is a snapshot directory (never sent, never counted). */
export function isSnapshotName(name: string): boolean {
  return name.startsWith(SNAPSHOT_PREFIX);
}

/** Which files of its sources a job sends. */
export type Selection =
  /** The top-level directories of the source directory (no file), but `excludes`. */
  | { kind: "directories"; excludes: readonly string[] }
  /**
   * The files directly in the source directory whose names match one of `patterns`. `keep`:
   * names neither sent nor deleted (another job sends them there). `stale`: patterns never
   * sent, whose files `--delete` removes from the joiner (rsync's hide and risk rules).
   */
  | {
    kind: "matching";
    patterns: readonly string[];
    keep?: readonly string[];
    stale?: readonly string[];
  }
  /**
   * Every source, with everything below it, but `leave`: files (their paths in the transfer,
   * `rel`, each an exact rule's name) that another job of the same pass sends (a schema split
   * over streams, passes.ts `shareSchema`): neither sent nor, on the joiner, deleted.
   */
  | { kind: "trees"; leave?: readonly string[] }
  /**
   * The top-level directories of the source directory that `excludes` does not name, with
   * everything below them: rsync finds them itself, so that directories whose names are not
   * UTF-8 (no argument can carry them) are sent too. It deletes no top-level entry on the
   * joiner (the structure pass does), only what is stale inside the directories it sends.
   */
  | { kind: "otherTrees"; excludes: readonly string[] }
  /** The source files themselves. */
  | { kind: "files" };

/**
 * The rsync options that make rsync send exactly `s` of a job's sources: snapshot directories
 * never ({@link SNAPSHOT_EXCLUDE}, first after the recursion option).
 */
export function selectionOptions(s: Selection): string[] {
  switch (s.kind) {
    case "directories":
      return [
        "--dirs",
        SNAPSHOT_EXCLUDE,
        ...s.excludes.map((n) => `--exclude=/${n}`),
        "--include=/*/",
        "--exclude=/*",
      ];
    case "matching":
      return [
        "--recursive",
        SNAPSHOT_EXCLUDE,
        "--exclude=/*/",
        ...s.patterns.map((p) => `--include=/${p}`),
        ...(s.keep ?? []).map((n) => `--exclude=/${n}`),
        ...(s.stale ?? []).flatMap((p) => [`--filter=H /${p}`, `--filter=R /${p}`]),
        "--exclude=**",
      ];
    case "trees":
      return [
        "--recursive",
        SNAPSHOT_EXCLUDE,
        ...(s.leave ?? []).map((rel) => `--exclude=/${rel}`),
      ];
    case "otherTrees":
      return [
        "--recursive",
        SNAPSHOT_EXCLUDE,
        // `***` makes rsync read the escapes of `literal` (it does only in wildcard patterns).
        ...s.excludes.map((n) => `--exclude=/${literal(n)}/***`),
        "--filter=P /*",
        "--include=/*/",
        "--include=/*/**",
        "--exclude=/*",
      ];
    case "files":
      return [];
  }
}

/** `name` as a literal rsync pattern (wildcards and backslashes escaped). */
export function literal(name: string): string {
  return name.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/** An rsync pattern without `/` (`*`, `?`; nothing else is special) as a RegExp for one name. */
export function globToRegExp(pattern: string): RegExp {
  const body = [...pattern].map((c) =>
    c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  ).join("");
  return new RegExp(`^${body}$`);
}

/** Something below a job's sources that `--copy-links` cannot send. */
export interface LinkProblem {
  path: string;
  why: "dangling" | "loop";
}

/** A regular file a job sends. */
export interface SentFile {
  /** Its path on the donor (through links, as the job names it). */
  path: string;
  /** Its path in the transfer (what an anchored rsync filter rule names, without the `/`). */
  rel: string;
  /** Its stat, links followed. */
  info: Deno.FileInfo;
}

/**
 * Walks the donor's files as `--copy-links` sends them: sizes of trees (cached by path, so the
 * planner and the progress meter share one walk), the files a job sends (always read afresh),
 * and the link problems met on the way.
 */
export class TreeWalk {
  readonly #problems = new Map<string, LinkProblem>();
  readonly #bytes = new Map<string, number>();

  /** The link problems met so far, each once. */
  get problems(): LinkProblem[] {
    return [...this.#problems.values()];
  }

  /** Bytes of the regular files at or below `path`, links followed. */
  async treeBytes(path: string): Promise<number> {
    const cached = this.#bytes.get(path);
    if (cached !== undefined) return cached;
    const files: SentFile[] = [];
    await this.#collect(path, "", new Set(), files);
    const n = files.reduce((sum, f) => sum + f.info.size, 0);
    this.#bytes.set(path, n);
    return n;
  }

  /** Bytes `s` selects of `sources` (trees from the cache). */
  async bytes(s: Selection, sources: readonly string[]): Promise<number> {
    if (s.kind === "trees" && !s.leave?.length) {
      let n = 0;
      for (const src of sources) n += await this.treeBytes(trimSlash(src));
      return n;
    }
    return (await this.files(s, sources)).reduce((sum, f) => sum + f.info.size, 0);
  }

  /**
   * The regular files `s` selects of `sources`, each stat'ed now. `dirs`, if given, receives the
   * directories at or below each `trees` source (links followed, snapshot directories left out)
   * as paths in the transfer (`rel` of {@link SentFile}): what rsync `--recursive` creates on the
   * joiner, empty ones too.
   */
  async files(s: Selection, sources: readonly string[], dirs?: string[]): Promise<SentFile[]> {
    const out: SentFile[] = [];
    for (const src of sources.map(trimSlash)) {
      const base = src.slice(src.lastIndexOf("/") + 1);
      switch (s.kind) {
        case "directories":
          break;
        case "matching":
          await this.#matching(src, s.patterns.map(globToRegExp), out);
          break;
        case "trees": {
          const leave = new Set(s.leave ?? []);
          const found: SentFile[] = [];
          await this.#collect(src, base, new Set(), found, dirs);
          out.push(...found.filter((f) => !leave.has(f.rel)));
          break;
        }
        case "otherTrees":
          await this.#otherTrees(src, new Set(s.excludes), out);
          break;
        case "files":
          await this.#file(src, base, out);
          break;
      }
    }
    return out;
  }

  async #matching(dir: string, res: RegExp[], out: SentFile[]): Promise<void> {
    for (const e of await listDir(dir)) {
      if (!e.isDirectory && res.some((r) => r.test(e.name))) {
        await this.#file(`${dir}/${e.name}`, e.name, out);
      }
    }
  }

  /**
   * The directories of `dir` but `excludes`, by their names' bytes. Below a directory whose name
   * is not UTF-8 the files' `path`s go through a descriptor open only during this walk, and
   * their `rel`s hold U+FFFD: no exact rule names them (see `exactRule`).
   */
  async #otherTrees(dir: string, excludes: ReadonlySet<string>, out: SentFile[]): Promise<void> {
    for (const raw of await dirNames(dir)) {
      const name = utf8Name(raw);
      if (name !== null) {
        if (!excludes.has(name) && !isSnapshotName(name)) {
          await this.#collect(`${dir}/${name}`, name, new Set(), out);
        }
        continue;
      }
      const rel = new TextDecoder().decode(raw);
      await withRawDir(dir, raw, (path) => this.#collect(path, rel, new Set(), out));
    }
  }

  async #file(path: string, rel: string, out: SentFile[]): Promise<void> {
    const info = await this.#stat(path);
    if (info?.isFile) out.push({ path, rel, info });
  }

  /** stat through links; a link to nothing is a problem, a file gone meanwhile is not. */
  async #stat(path: string): Promise<Deno.FileInfo | null> {
    try {
      return await Deno.stat(path);
    } catch {
      const l = await Deno.lstat(path).catch(() => null);
      if (l?.isSymlink) this.#problems.set(path, { path, why: "dangling" });
      return null;
    }
  }

  async #collect(
    path: string,
    rel: string,
    ancestors: Set<string>,
    out: SentFile[],
    dirs?: string[],
  ) {
    const info = await this.#stat(path);
    if (!info) return;
    if (info.isFile) {
      out.push({ path, rel, info });
      return;
    }
    if (!info.isDirectory) return;
    const id = `${info.dev}:${info.ino}`;
    if (ancestors.has(id)) {
      this.#problems.set(path, { path, why: "loop" });
      return;
    }
    const inner = new Set(ancestors).add(id);
    const prefix = rel === "" ? "" : `${rel}/`;
    dirs?.push(rel);
    for (const e of await listDir(path)) {
      if (e.isDirectory && isSnapshotName(e.name)) continue;
      await this.#collect(`${path}/${e.name}`, `${prefix}${e.name}`, inner, out, dirs);
    }
  }
}

/**
 * The entries of a directory the copy reads; one removed meanwhile (a schema dropped) is empty,
 * one we may not read (or on a broken path) an environment error naming it.
 */
async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw fsFailure(e, { path: dir, doing: "list", access: "read" });
  }
}

/** The names in `dir` as bytes (`Deno.readDir`'s error when it cannot be read). */
export async function dirNames(dir: string): Promise<Uint8Array[]> {
  const names = rawDirNames(dir);
  if (names === null) await Deno.readDir(dir)[Symbol.asyncIterator]().next();
  return names ?? [];
}

/** `p` without its trailing slashes (`/` stays `/`): a source as the walk names its files. */
export function trimSlash(p: string): string {
  return p.replace(/(.)\/+$/, "$1");
}
