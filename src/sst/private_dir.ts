/**
 * A private directory (0700) for our configuration, secrets and transient files. Files in it
 * are created 0600 and exclusively; the directory is removed when the scope closes.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";
import type { Scope } from "./scope.ts";
import { socatSafe } from "../tunnel/socat_address.ts";
import { commandLine, isAlive } from "../proc/liveness.ts";
import * as log from "./log.ts";

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

/**
 * Removes private directories of earlier runs that were killed (SIGKILL leaves them, with
 * their per-SST secret): ours by name and owner, whose PID no longer runs this program.
 */
export async function sweepStalePrivateDirs(tmpdir: string): Promise<string[]> {
  const removed: string[] = [];
  const uid = Deno.uid();
  for (const e of await listEntries(tmpdir)) {
    const pid = Number(e.name.slice(PREFIX.length).split(".")[0]);
    if (!e.isDirectory || !e.name.startsWith(PREFIX) || !(pid > 0)) continue;
    if (
      pid === Deno.pid || (isAlive(pid) && (commandLine(pid) ?? []).join(" ").includes("wsrep_sst"))
    ) continue;
    const path = `${tmpdir}/${e.name}`;
    const st = await Deno.lstat(path).catch(() => null);
    if (!st || st.uid !== uid) continue;
    await Deno.remove(path, { recursive: true }).catch(() => {});
    removed.push(path);
  }
  return removed;
}

/** Creates the private directory under `tmpdir` and registers its removal. */
export async function makePrivateDir(tmpdir: string, scope: Scope): Promise<PrivateDir> {
  let path: string;
  for (const stale of await sweepStalePrivateDirs(tmpdir)) {
    log.info(`removed ${stale} left by a killed SST`);
  }
  try {
    path = await Deno.makeTempDir({ dir: tmpdir, prefix: `${PREFIX}${Deno.pid}.` });
  } catch (e) {
    throw new ConfigError(
      `cannot create a private directory in tmpdir ${tmpdir} (${(e as Error).message}); ` +
        "set tmpdir in [sst] to a writable directory",
    );
  }
  scope.defer(`remove ${path}`, () => Deno.remove(path, { recursive: true }));
  await Deno.chmod(path, 0o700);
  socatSafe("tmpdir", path);
  return {
    path,
    async write(name: string, content: string): Promise<string> {
      if (name.includes("/")) throw new Error(`bad private file name ${name}`);
      const file = `${path}/${name}`;
      await Deno.writeTextFile(file, content, { createNew: true, mode: 0o600 });
      await Deno.chmod(file, 0o600);
      return file;
    },
  };
}
