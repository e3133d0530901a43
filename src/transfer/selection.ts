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

/** Which files of its sources a job sends. */
export type Selection =
  /** The top-level directories of the source directory (no file), but `excludes`. */
  | { kind: "directories"; excludes: readonly string[] }
  /** The files directly in the source directory whose names match one of `patterns`. */
  | { kind: "matching"; patterns: readonly string[] }
  /** Every source, with everything below it. */
  | { kind: "trees" }
  /** The source files themselves. */
  | { kind: "files" };

/** The rsync options that make rsync send exactly `s` of a job's sources. */
export function selectionOptions(s: Selection): string[] {
  switch (s.kind) {
    case "directories":
      return [
        "--dirs",
        ...s.excludes.map((n) => `--exclude=/${n}`),
        "--include=/*/",
        "--exclude=/*",
      ];
    case "matching":
      return [
        "--recursive",
        "--exclude=/*/",
        ...s.patterns.map((p) => `--include=/${p}`),
        "--exclude=**",
      ];
    case "trees":
      return ["--recursive"];
    case "files":
      return [];
  }
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

/**
 * Walks the donor's files as `--copy-links` sends them: sizes of trees (cached by path, so the
 * planner and the progress meter share one walk) and the link problems met on the way.
 */
export class TreeWalk {
  readonly problems: LinkProblem[] = [];
  readonly #bytes = new Map<string, number>();

  /** Bytes of the regular files at or below `path`, links followed. */
  async treeBytes(path: string): Promise<number> {
    const cached = this.#bytes.get(path);
    if (cached !== undefined) return cached;
    const n = await this.#walk(path, new Set());
    this.#bytes.set(path, n);
    return n;
  }

  /** Bytes `s` selects of `sources`. */
  async bytes(s: Selection, sources: readonly string[]): Promise<number> {
    let n = 0;
    for (const src of sources.map((p) => p.replace(/(.)\/+$/, "$1"))) {
      switch (s.kind) {
        case "directories":
          break;
        case "matching":
          n += await this.#matching(src, s.patterns.map(globToRegExp));
          break;
        case "trees":
          n += await this.treeBytes(src);
          break;
        case "files":
          n += await this.#fileBytes(src);
          break;
      }
    }
    return n;
  }

  async #matching(dir: string, res: RegExp[]): Promise<number> {
    let n = 0;
    for await (const e of Deno.readDir(dir)) {
      if (!e.isDirectory && res.some((r) => r.test(e.name))) {
        n += await this.#fileBytes(`${dir}/${e.name}`);
      }
    }
    return n;
  }

  async #fileBytes(path: string): Promise<number> {
    const st = await this.#stat(path);
    return st?.isFile ? st.size : 0;
  }

  /** stat through links; a link to nothing is a problem, a file gone meanwhile is not. */
  async #stat(path: string): Promise<Deno.FileInfo | null> {
    try {
      return await Deno.stat(path);
    } catch {
      const l = await Deno.lstat(path).catch(() => null);
      if (l?.isSymlink) this.problems.push({ path, why: "dangling" });
      return null;
    }
  }

  async #walk(path: string, ancestors: Set<string>): Promise<number> {
    const st = await this.#stat(path);
    if (!st) return 0;
    if (st.isFile) return st.size;
    if (!st.isDirectory) return 0;
    const id = `${st.dev}:${st.ino}`;
    if (ancestors.has(id)) {
      this.problems.push({ path, why: "loop" });
      return 0;
    }
    const inner = new Set(ancestors).add(id);
    let n = 0;
    for await (const e of Deno.readDir(path)) n += await this.#walk(`${path}/${e.name}`, inner);
    return n;
  }
}
