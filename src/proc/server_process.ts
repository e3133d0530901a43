/**
 * The version of the server that started us, asked from its own binary: the joiner's
 * `--parent`, else the first ancestor (mariadbd → sh → us) that is `mariadbd` or `mysqld`.
 * The running image is asked (`/proc/<pid>/exe --no-defaults --version`), so a package upgraded
 * on disk under a running server still reports the running version; when that link is not ours
 * to follow (a server that changed user is not dumpable), its argv[0] is run instead.
 *
 * Nothing here fails: an unknown version skips the version check (logged by the caller).
 *
 * @module
 */
import { type ProcessAdapter, run, which } from "./process.ts";
import { commandLine, commandName, parentOf } from "./liveness.ts";
import { parseVersionOutput, type ServerVersion } from "../core/server_version.ts";

/** Names of the server binary (10.5+ is `mariadbd`; `mysqld` is its old name). */
const SERVER_NAMES: ReadonlySet<string> = new Set(["mariadbd", "mysqld"]);
/** How far up the process tree to look (mariadbd → sh → launcher → us is 3). */
const MAX_DEPTH = 12;
/** Bound for one `--version` run. */
const VERSION_TIMEOUT_MS = 10_000;

/** What was found, for the log. */
export interface ServerLookup {
  version: ServerVersion | null;
  /** How it was found (`mariadbd pid 123: …`) or why not. */
  source: string;
}

function basename(p: string): string {
  return p.replace(/ \(deleted\)$/, "").replace(/^.*\//, "");
}

function exeName(pid: number): string | null {
  try {
    return basename(Deno.readLinkSync(`/proc/${pid}/exe`));
  } catch {
    return null;
  }
}

/** True if `pid` runs the server binary (by its executable, else by its command name). */
export function isServerProcess(pid: number): boolean {
  const name = exeName(pid) ?? commandName(pid);
  return name !== null && SERVER_NAMES.has(name);
}

/** The pids to look at: `first` (the joiner's `--parent`), then our ancestors, nearest first. */
export function candidatePids(first: number | undefined, self = Deno.pid): number[] {
  const out: number[] = [];
  if (first !== undefined && first > 1) out.push(first);
  let pid = parentOf(self);
  for (let i = 0; i < MAX_DEPTH && pid !== null && pid > 1; i++) {
    if (!out.includes(pid)) out.push(pid);
    pid = parentOf(pid);
  }
  return out;
}

/** The first of `pids` that is the server, or null. */
export function findServerPid(pids: readonly number[]): number | null {
  return pids.find(isServerProcess) ?? null;
}

/** The programs to run for `pid`'s version: its running image, then its argv[0]. */
function binariesOf(pid: number): string[] {
  const out = [`/proc/${pid}/exe`];
  const argv0 = commandLine(pid)?.[0];
  if (argv0) {
    const path = argv0.startsWith("/") ? argv0 : which(argv0);
    if (path) out.push(path);
  }
  return out;
}

/** Runs `<binary> --no-defaults --version` and reads the version; null if that fails. */
export async function askVersion(
  adapter: ProcessAdapter,
  binary: string,
): Promise<{ version: ServerVersion | null; output: string }> {
  try {
    const r = await run(adapter, { cmd: binary, args: ["--no-defaults", "--version"] }, {
      timeoutMs: VERSION_TIMEOUT_MS,
    });
    const output = (r.stdout + r.stderr).trim().split("\n")[0] ?? "";
    return { version: r.code === 0 ? parseVersionOutput(r.stdout) : null, output };
  } catch (e) {
    return { version: null, output: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * The version of the server among `pids` (see {@link candidatePids}). Never throws: the
 * result says where the version came from, or why there is none.
 */
export async function serverVersion(
  adapter: ProcessAdapter,
  pids: readonly number[],
): Promise<ServerLookup> {
  const pid = findServerPid(pids);
  if (pid === null) {
    return { version: null, source: "no mariadbd or mysqld among our parent processes" };
  }
  let last = "";
  for (const binary of binariesOf(pid)) {
    const { version, output } = await askVersion(adapter, binary);
    if (version) return { version, source: `pid ${pid}: ${output.replace(/^.*?(?=\bVer\b)/, "")}` };
    last = `${binary} --version said '${output.slice(0, 120)}'`;
  }
  return { version: null, source: `mariadbd pid ${pid}: ${last}` };
}
