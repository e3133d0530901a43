/**
 * Environment errors on our own paths (the datadir and its parents, the server's other
 * directories, tmpdir, the lock file): a path that is missing, not ours to write, on a read-only
 * or full filesystem, or behind a loop of links is an expected failure, not a bug. One function,
 * {@link fsFailure}, turns such a Deno filesystem error into an {@link SstError} with the errno
 * as exit code and one line naming the path, the user we run as and the fix; it is called where
 * the path and the purpose are known. Any other error passes through unchanged (a bug crashes).
 *
 * @module
 */
import { ExitCode, type ExitCodeValue, SstError } from "./errors.ts";

/** The environment errors we recognise, by errno name. */
export type FsErrorKind = "ENOENT" | "EACCES" | "EROFS" | "ENOSPC" | "EDQUOT" | "ELOOP" | "ENOTDIR";

/** What we were doing with a path, for the message. */
export interface FsAction {
  /** The path named in the message (a directory we create a file in, or the file). */
  path: string;
  /** What we tried, as a verb phrase whose object is {@link path}: `create wsrep_sst.pid in`. */
  doing: string;
  /** Whether we read or wrote (default write): the permission the fix asks for. */
  access?: "read" | "write";
  /** The setting that chose the path (`[mysqld] datadir`), named in the fix. */
  setting?: string;
}

/** The kind of `e`, or null when it is not an environment error of a path. */
export function fsErrorKind(e: unknown): FsErrorKind | null {
  if (!(e instanceof Error)) return null;
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case "ENOENT":
    case "EROFS":
    case "ENOSPC":
    case "EDQUOT":
    case "ELOOP":
    case "ENOTDIR":
      return code;
    case "EACCES":
    case "EPERM":
      return "EACCES";
  }
  if (e instanceof Deno.errors.NotFound) return "ENOENT";
  if (e instanceof Deno.errors.PermissionDenied) return "EACCES";
  if (e instanceof Deno.errors.FilesystemLoop) return "ELOOP";
  if (e instanceof Deno.errors.NotADirectory) return "ENOTDIR";
  return null;
}

/** The exit code of each kind: its errno, which mariadbd prints with strerror(). */
const EXIT: Record<FsErrorKind, ExitCodeValue> = {
  ENOENT: ExitCode.notFound,
  EACCES: ExitCode.access,
  EROFS: ExitCode.readOnly,
  ENOSPC: ExitCode.noSpace,
  EDQUOT: ExitCode.quota,
  ELOOP: ExitCode.loop,
  ENOTDIR: ExitCode.notDirectory,
};

/** "uid 27 (mysql)": the user this process runs as. */
export function whoAmI(): string {
  let uid: number | null = null;
  try {
    uid = Deno.uid();
  } catch { /* not available */ }
  if (uid === null) return "the user we run as";
  return `uid ${uid}${userName(uid)}`;
}

function userName(uid: number): string {
  try {
    const line = Deno.readTextFileSync("/etc/passwd").split("\n")
      .find((l) => l.split(":")[2] === String(uid));
    return line ? ` (${line.split(":")[0]})` : "";
  } catch {
    return "";
  }
}

/** The first component of `path` that does not exist, or null if all do (or cannot tell). */
function firstMissing(path: string): string | null {
  const parts = path.replace(/\/+$/, "").split("/");
  for (let i = 2; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join("/");
    if (prefix === "" || prefix.endsWith("/")) continue;
    try {
      Deno.lstatSync(prefix);
    } catch (e) {
      return e instanceof Deno.errors.NotFound ? prefix : null;
    }
  }
  return null;
}

function parentOf(path: string): string {
  const p = path.replace(/\/+$/, "");
  return p.slice(0, Math.max(1, p.lastIndexOf("/")));
}

function orSetting(a: FsAction, fix: string): string {
  return a.setting ? `${fix}, or point ${a.setting} elsewhere` : fix;
}

function describe(kind: FsErrorKind, a: FsAction): string {
  const who = whoAmI();
  const head = `cannot ${a.doing} ${a.path}`;
  switch (kind) {
    case "ENOENT": {
      const missing = firstMissing(a.path) ?? a.path;
      return `${head}: ${missing === a.path ? "it" : missing} does not exist; ` +
        orSetting(a, `create ${missing}, writable by ${who}, the user this SST runs as`);
    }
    case "EACCES": {
      // A path that does not exist yet is denied by the directory it would be created in.
      const missing = firstMissing(a.path);
      const target = missing === null ? a.path : parentOf(missing);
      const verb = a.access ?? "write";
      return `${head}: permission denied for ${who}, the user this SST runs as; ` +
        orSetting(
          a,
          `chown ${target} to that user (or chmod it so that user can ${verb} it) and let ` +
            "that user search every parent directory",
        );
    }
    case "EROFS":
      return `${head}: it is on a read-only filesystem; ` + orSetting(a, "remount it read-write");
    case "ENOSPC":
      return `${head}: no space left on its filesystem; ` + orSetting(a, "free space there");
    case "EDQUOT":
      return `${head}: the disk quota of ${who} is exhausted; ` +
        orSetting(a, "raise the quota or free space");
    case "ELOOP":
      return `${head}: the path goes through a loop of symbolic links; ` +
        orSetting(a, "fix the links");
    case "ENOTDIR":
      return `${head}: a component of the path is a file, not a directory; ` +
        orSetting(a, "fix the path");
  }
}

/**
 * `e` as an expected failure when it is an environment error ({@link FsErrorKind}) of
 * `a.path`: exit code its errno, one line naming the path, the user and the fix. Anything else
 * (a bug, an SstError already) is returned unchanged, for the caller to throw.
 */
export function fsFailure(e: unknown, a: FsAction): unknown {
  if (e instanceof SstError) return e;
  const kind = fsErrorKind(e);
  if (kind === null) return e;
  return new SstError(EXIT[kind], describe(kind, a), { cause: e });
}

/** Runs `op` on `a.path`, throwing {@link fsFailure} of what it throws. */
export async function onPath<T>(a: FsAction, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw fsFailure(e, a);
  }
}

/** {@link onPath} for synchronous operations. */
export function onPathSync<T>(a: FsAction, op: () => T): T {
  try {
    return op();
  } catch (e) {
    throw fsFailure(e, a);
  }
}
