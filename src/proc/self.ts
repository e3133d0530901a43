/**
 * How to start this program again (as the responder of `check --listen`): the compiled binary
 * itself, or `deno run -A <bundle>` when running the bundle under Deno.
 *
 * @module
 */

/**
 * Flags for `deno run` of the bundle: all permissions (the bundle needs run, net, read, write,
 * env, sys and ffi), never prompt, never read a deno.json from the datadir, never fetch.
 */
export const DENO_RUN_FLAGS = ["-A", "--no-prompt", "--no-config", "--cached-only"];

/** argv that starts this same program. */
export function selfCommand(): string[] {
  const exe = Deno.execPath();
  const base = exe.slice(exe.lastIndexOf("/") + 1);
  if (base !== "deno") return [exe];
  const main = new URL(Deno.mainModule);
  if (main.protocol !== "file:") throw new Error(`cannot re-run ${Deno.mainModule}`);
  return [exe, "run", ...DENO_RUN_FLAGS, decodeURIComponent(main.pathname)];
}

/** The file this program runs from: the compiled binary, or the bundle `deno run` runs. */
export function programPath(): string {
  return selfCommand().at(-1)!;
}
