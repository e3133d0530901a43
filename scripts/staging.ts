/**
 * What the packaging tasks (`deno task deb`, `rpm`, `install`) share so that their result does
 * not depend on the caller's umask and no staging directory outlives them:
 *
 * - {@link makeDirs} creates missing directories with an explicit mode (a mode given to
 *   `mkdir` is masked by the umask: 0755 becomes 0750 under `umask 027`, and dpkg-deb then
 *   refuses the control directory; an installed 0750 library directory would keep mariadbd's
 *   user out). Directories that already exist (`/usr/bin`) are left as they are.
 * - {@link normalizeModes} sets every directory of a staged tree to 0755 and every regular file
 *   to 0755 (any execute bit) or 0644.
 * - {@link withStagingDir} removes its directory on every path, and {@link TaskFailure} (thrown
 *   by a task's `fail`) reaches {@link runTask} only after that cleanup ran (`Deno.exit` inside
 *   a `try` would skip every `finally`).
 *
 * @module
 */

/** An expected failure of a packaging task: its message and exit code. */
export class TaskFailure extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
    this.name = "TaskFailure";
  }
}

/** Runs a task's body; a {@link TaskFailure} becomes one line on stderr and its exit code. */
export async function runTask(task: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (!(e instanceof TaskFailure)) throw e;
    console.error(`deno task ${task}: ${e.message}`);
    Deno.exit(e.code);
  }
}

/** Creates `dir` and its missing parents, each chmod-ed to `mode` whatever the umask. */
export async function makeDirs(dir: string, mode = 0o755): Promise<void> {
  const parts = dir.split("/").filter((p) => p !== "");
  let path = dir.startsWith("/") ? "" : ".";
  for (const p of parts) {
    path = `${path}/${p}`;
    try {
      await Deno.mkdir(path);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) continue;
      throw e;
    }
    await Deno.chmod(path, mode);
  }
}

/** The mode a staged entry gets: directories 0755, files 0755 if executable by anyone, else 0644. */
export function stagedMode(kind: "dir" | "file", mode: number): number {
  if (kind === "dir") return 0o755;
  return (mode & 0o111) !== 0 ? 0o755 : 0o644;
}

/** Sets the mode of `root` and of everything below it (symbolic links are left alone). */
export async function normalizeModes(root: string): Promise<void> {
  const st = await Deno.lstat(root);
  if (st.isSymlink) return;
  await Deno.chmod(root, stagedMode(st.isDirectory ? "dir" : "file", st.mode ?? 0));
  if (!st.isDirectory) return;
  for await (const e of Deno.readDir(root)) await normalizeModes(`${root}/${e.name}`);
}

/** Runs `fn` with a fresh temporary directory, removed afterwards on every path. */
export async function withStagingDir<T>(
  prefix: string,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
