/**
 * Helpers both benchmarks share (`scripts/bench/`, `scripts/bench_loopback.ts`).
 *
 * @module
 */

/** The first output line of `cmd args` that matches `pick` ("not found" if it cannot run). */
export function versionOf(cmd: string, args: string[], pick = /\S/): string {
  try {
    const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return text.split("\n").find((l) => pick.test(l))?.trim() ?? "?";
  } catch {
    return "not found";
  }
}

/** Paths of the regular files under `dir` (recursively). */
export function* treeFiles(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* treeFiles(p);
    else if (e.isFile) yield p;
  }
}

/** Total bytes of regular files under `dir` (recursively). */
export function treeBytes(dir: string): number {
  let n = 0;
  for (const p of treeFiles(dir)) n += Deno.statSync(p).size;
  return n;
}
