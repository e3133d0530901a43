/**
 * The TypeScript files below a directory of the repository with their text, for tests that read
 * the sources themselves (module-level state, waits, citations of the protocol document, imports).
 *
 * @module
 */

/** Every `.ts` file below `dir` (a directory URL ending in `/`), keyed by `prefix` + its path. */
export async function sourceFiles(dir: URL, prefix = ""): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix + e.name;
    if (e.isDirectory) {
      for (const [k, v] of await sourceFiles(new URL(`${e.name}/`, dir), `${rel}/`)) {
        files.set(k, v);
      }
    } else if (e.name.endsWith(".ts")) {
      files.set(rel, await Deno.readTextFile(new URL(e.name, dir)));
    }
  }
  return files;
}

/** The repository's top directory, as a URL. */
export const REPO_URL = new URL("../../", import.meta.url);
