/**
 * The names this program answers to: `wsrep_sst_rsync_tunnel` (`wsrep_sst_method =
 * rsync_tunnel`) and `wsrep_sst_rsync_tunnel_wan` (`rsync_tunnel_wan`, installed as a link to the
 * same program). The name only changes a default (`[sst] delta=auto`, src/config/delta.ts).
 *
 * Which name we were invoked by is a process fact that only `src/main.ts` reads; this module
 * decides from what it read, purely.
 *
 * @module
 */

/** The main name. */
export const MAIN_NAME = "wsrep_sst_rsync_tunnel";
/** The name of `wsrep_sst_method = rsync_tunnel_wan`. */
export const WAN_NAME = "wsrep_sst_rsync_tunnel_wan";

/** A name this program answers to. */
export type ProgramName = typeof MAIN_NAME | typeof WAN_NAME;

/**
 * The variable in which the installed launcher (scripts/launcher.ts) passes on the name it was
 * called by: a bundle run by the Deno runtime sees `deno` as its argv[0].
 */
export const NAME_ENV = "WSREP_SST_RSYNC_TUNNEL_NAME";

/** The last path component of `path`. */
function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** `name` (a path or a bare name) if it is one of ours, else null. */
export function knownName(name: string | undefined): ProgramName | null {
  const base = basename(name ?? "");
  return base === MAIN_NAME || base === WAN_NAME ? base : null;
}

/**
 * The name we were invoked by: the launcher's {@link NAME_ENV} when set, else the basename of
 * argv[0] from `/proc/self/cmdline` (a compiled executable run through the alias link sees its
 * link name there). Anything but the two known names counts as {@link MAIN_NAME}.
 */
export function resolveProgramName(
  fromEnv: string | undefined,
  cmdline: string | undefined,
): ProgramName {
  if (fromEnv !== undefined && fromEnv !== "") return knownName(fromEnv) ?? MAIN_NAME;
  return knownName(cmdline?.split("\0")[0]) ?? MAIN_NAME;
}

/** The `wsrep_sst_method` value that runs `name`. */
export function methodOf(name: ProgramName): string {
  return name.slice("wsrep_sst_".length);
}
