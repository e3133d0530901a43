/**
 * A private directory (0700) for our configuration, secrets and transient files. Files in it
 * are created 0600 and exclusively; the directory is removed when the scope closes.
 *
 * @module
 */
import { ConfigError, ExitCode, SstError } from "../core/errors.ts";
import type { Scope } from "./scope.ts";
import { socatSafe } from "../tunnel/socat_address.ts";
import { isAlive, isSameProcessAlive, processStartTime } from "../proc/liveness.ts";
import * as log from "../core/log.ts";
import { fsErrorKind, fsFailure, onPath } from "../core/fs_errors.ts";

/** The setting that chooses where private directories go, named in environment errors. */
const TMPDIR = "[sst] tmpdir";

/** A created private directory. */
export interface PrivateDir {
  path: string;
  /** Writes `name` inside the directory, 0600, failing if it exists. Returns its path. */
  write(name: string, content: string): Promise<string>;
}

const PREFIX = "wsrep_sst_rsync_tunnel.";

async function listEntries(dir: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e);
  } catch { /* unreadable tmpdir: makeTempDir will report it */ }
  return out;
}

/** `<pid>-<start time>.` of a name (`<pid>.` in names made by earlier versions). */
const OWNER_RE = /^(\d+)(?:-(\d+))?\./;

/**
 * Whether the run that made a directory named `<PREFIX><pid>-<start>.…` still runs: its PID is
 * alive and started at that time. Never by the command line: a compiled binary, a launcher under
 * another name or an unreadable `/proc/<pid>/cmdline` must not make a live run's directory look
 * stale. Names without a start time (earlier versions) count as owned while the PID lives.
 */
export function ownerAlive(name: string): boolean {
  const m = OWNER_RE.exec(name.slice(PREFIX.length));
  if (!m) return true;
  const pid = Number(m[1]);
  if (pid === Deno.pid) return true;
  return m[2] === undefined ? isAlive(pid) : isSameProcessAlive(pid, m[2]);
}

/**
 * Removes private directories of earlier runs that were killed (SIGKILL leaves them, with
 * their per-SST secret): ours by name and owner, whose process no longer runs.
 */
export async function sweepStalePrivateDirs(tmpdir: string): Promise<string[]> {
  const removed: string[] = [];
  const uid = Deno.uid();
  for (const e of await listEntries(tmpdir)) {
    if (!e.isDirectory || !e.name.startsWith(PREFIX) || ownerAlive(e.name)) continue;
    const path = `${tmpdir}/${e.name}`;
    const st = await Deno.lstat(path).catch(() => null);
    if (!st || st.uid !== uid) continue;
    await Deno.remove(path, { recursive: true }).catch(() => {});
    removed.push(path);
  }
  return removed;
}

/** The name prefix of this run's private directory: `<PREFIX><pid>-<start time>.` */
export function ownPrefix(): string {
  return `${PREFIX}${Deno.pid}-${processStartTime(Deno.pid) ?? "0"}.`;
}

/**
 * A file of the private directory could not be written or read: most likely the directory was
 * removed under us (another program cleaning the tmpdir; exit 5); a full or read-only tmpdir is
 * an environment error ({@link fsFailure}).
 */
export function privateDirError(
  dir: string,
  op: { doing: string; path: string },
  e: unknown,
): SstError {
  const gone = e instanceof Deno.errors.NotFound;
  if (!gone && fsErrorKind(e) !== null) {
    return fsFailure(e, { ...op, setting: TMPDIR }) as SstError;
  }
  return new SstError(
    ExitCode.io,
    `cannot ${op.doing} ${op.path} (${e instanceof Error ? e.message : String(e)})` +
      (gone
        ? `: the private directory ${dir} was removed while this SST ran; keep programs that ` +
          "clean the tmpdir away from wsrep_sst_rsync_tunnel.* directories, or set [sst] tmpdir"
        : "; check the filesystem of [sst] tmpdir"),
  );
}

/** `path` through links when it exists, as written otherwise. */
async function real(path: string): Promise<string> {
  return await Deno.realPath(path).catch(() => path);
}

function within(path: string, tree: string): boolean {
  return path === tree || path.startsWith(tree === "/" ? "/" : `${tree}/`);
}

/**
 * The trees the SST copies or cleans recursively: the datadir and what its top-level links to
 * directories point to (schema directories on another disk), through links.
 */
async function copiedTrees(datadir: string): Promise<string[]> {
  const trees = [await real(datadir)];
  try {
    for await (const e of Deno.readDir(datadir)) {
      if (!e.isSymlink) continue;
      const target = await real(`${datadir}/${e.name}`);
      if ((await Deno.stat(target).catch(() => null))?.isDirectory) trees.push(target);
    }
  } catch { /* an unreadable datadir fails elsewhere, naming it */ }
  return trees;
}

/**
 * Where this run's private directory goes: `tmpdir`, unless it lies inside a tree the SST
 * copies or cleans (a `tmpdir=<datadir>/tmp`): the donor would send the directory, secret
 * included, and the donor's `--delete` would remove the joiner's. Then in `$TMPDIR` or `/tmp`,
 * whichever is outside, said in one INFO line; fails (exit 22) when neither is.
 */
export async function privateDirParent(tmpdir: string, datadir: string): Promise<string> {
  const trees = await copiedTrees(datadir);
  const inside = async (dir: string) => {
    const r = await real(dir);
    return trees.some((t) => within(r, t));
  };
  if (!(await inside(tmpdir))) return tmpdir;
  const env = Deno.env.get("TMPDIR");
  const candidates = [...(env?.startsWith("/") ? [env.replace(/(.)\/+$/, "$1")] : []), "/tmp"];
  for (const alt of candidates) {
    if (await inside(alt)) continue;
    log.info(
      `tmpdir ${tmpdir} is inside the datadir ${datadir}, which the SST copies and cleans: ` +
        `private directory made in ${alt} instead`,
    );
    return alt;
  }
  throw new ConfigError(
    `tmpdir ${tmpdir} is inside the datadir ${datadir}, which the SST copies and cleans, and ` +
      `so are ${candidates.join(" and ")}; set tmpdir to a directory outside the datadir`,
  );
}

/**
 * Creates the private directory under `tmpdir` (or outside the datadir when `tmpdir` is inside
 * it: {@link privateDirParent}) and registers its removal.
 */
export async function makePrivateDir(
  tmpdir: string,
  scope: Scope,
  datadir?: string,
): Promise<PrivateDir> {
  // A hostile value is a configuration error, before any file system call sees it.
  socatSafe("tmpdir", tmpdir);
  if (datadir !== undefined) tmpdir = await privateDirParent(tmpdir, datadir);
  let path: string;
  for (const stale of await sweepStalePrivateDirs(tmpdir)) {
    log.info(`removed ${stale} left by a killed SST`);
  }
  try {
    path = await Deno.makeTempDir({ dir: tmpdir, prefix: ownPrefix() });
  } catch (e) {
    const failure = fsFailure(e, {
      path: tmpdir,
      doing: "create a private directory in",
      setting: TMPDIR,
    });
    if (failure instanceof SstError) throw failure;
    throw new ConfigError(
      `cannot create a private directory in tmpdir ${tmpdir} (${(e as Error).message}); ` +
        "set tmpdir in [sst] to a writable directory",
    );
  }
  scope.defer(`remove ${path}`, () => Deno.remove(path, { recursive: true }));
  await onPath(
    { path, doing: "chmod 0700", setting: TMPDIR },
    () => Deno.chmod(path, 0o700),
  );
  socatSafe("tmpdir", path);
  return {
    path,
    async write(name: string, content: string): Promise<string> {
      if (name.includes("/")) throw new Error(`bad private file name ${name}`);
      const file = `${path}/${name}`;
      try {
        await Deno.writeTextFile(file, content, { createNew: true, mode: 0o600 });
        await Deno.chmod(file, 0o600);
      } catch (e) {
        throw privateDirError(path, { doing: "write", path: file }, e);
      }
      return file;
    },
  };
}
