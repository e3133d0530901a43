/**
 * A private directory (0700) for our configuration, secrets and transient files. Files in it
 * are created 0600 and exclusively; the directory is removed when the scope closes.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";
import type { Scope } from "./scope.ts";
import { socatSafe } from "../tunnel/socat_address.ts";

/** A created private directory. */
export interface PrivateDir {
  path: string;
  /** Writes `name` inside the directory, 0600, failing if it exists. Returns its path. */
  write(name: string, content: string): Promise<string>;
}

/** Creates the private directory under `tmpdir` and registers its removal. */
export async function makePrivateDir(tmpdir: string, scope: Scope): Promise<PrivateDir> {
  let path: string;
  try {
    path = await Deno.makeTempDir({ dir: tmpdir, prefix: "wsrep_sst_rsync_tunnel." });
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
