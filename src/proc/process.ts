/**
 * The one place where subprocesses are started. Every child gets an argv array (never a
 * shell), its own process group when it may have descendants, and is registered so that
 * {@link stopAll} can kill it on every exit path.
 *
 * Unit tests replace the adapter ({@link ProcessAdapter}); nothing else may call
 * `Deno.Command` directly.
 *
 * @module
 */

import { withDeadline } from "./wait.ts";

/** How a standard stream of the child is connected. */
export type Stdio = "null" | "piped" | "inherit";

/** What to start. */
export interface SpawnSpec {
  /** Program name (looked up in PATH) or absolute path. */
  cmd: string;
  /** Arguments, each passed as one argv element. */
  args: readonly string[];
  /** Working directory. */
  cwd?: string;
  /**
   * The child's own variables. It gets these plus {@link INHERITED_ENV} from ours, nothing
   * else: mariadbd hands the donor the per-SST secret in its environment, which no child may
   * inherit.
   */
  env?: Record<string, string>;
  stdin?: Stdio;
  stdout?: Stdio;
  stderr?: Stdio;
  /** Start in a new session/process group so that a kill reaches every descendant. */
  group?: boolean;
  /**
   * Have the kernel SIGKILL the child if we die (even by SIGKILL), via util-linux
   * `setpriv --pdeathsig` where available. Only for direct children of the main thread.
   */
  dieWithParent?: boolean;
}

/** How a child ended. */
export interface ExitStatus {
  code: number;
  signal: string | null;
}

/** A started child. */
export interface Child {
  readonly pid: number;
  readonly spec: SpawnSpec;
  readonly status: Promise<ExitStatus>;
  readonly stdin: WritableStream<Uint8Array> | null;
  readonly stdout: ReadableStream<Uint8Array> | null;
  readonly stderr: ReadableStream<Uint8Array> | null;
  /** Sends a signal to the child (to its whole group when started with `group`). */
  kill(signal?: Deno.Signal): void;
  /** True once `status` has settled. */
  readonly exited: boolean;
}

/** Starts processes. The real one wraps `Deno.Command`; tests may supply a fake. */
export interface ProcessAdapter {
  spawn(spec: SpawnSpec): Child;
}

const live = new Set<Child>();

/**
 * The variables of our environment every child inherits: where programs are, the locale and
 * time zone of its messages, OpenSSL's configuration (FIPS hosts), and Deno's own settings for
 * a child that is this program again. Nothing else (not `WSREP_SST_OPT_*`, not `LD_PRELOAD`).
 */
export const INHERITED_ENV = [
  "PATH",
  "HOME",
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_CTYPE",
  "LC_MESSAGES",
  "TZ",
  "TMPDIR",
  "OPENSSL_CONF",
  "OPENSSL_MODULES",
  "DENO_DIR",
  "DENO_NO_UPDATE_CHECK",
  "NO_COLOR",
] as const;

/**
 * The variable every child carries with this run's id ({@link runId}): a successor's reaper
 * (src/sst/instance_lock.ts) kills a dead run's leftovers only if they carry its id, never a
 * process that merely sits in a process group the dead run once used. Children inherit it to
 * their own children (socat's forks, the rsync daemons it runs, our donor gate).
 */
export const RUN_ID_ENV = "WSREP_SST_RUN";

const RUN_ID_RE = /^[0-9a-f]{32}$/;

/** A fresh id, unless we are a helper of a run (our donor gate) and carry its id already. */
function initialRunId(): string {
  let inherited: string | undefined;
  try {
    inherited = Deno.env.get(RUN_ID_ENV);
  } catch { /* no env permission: a new id */ }
  if (inherited !== undefined && RUN_ID_RE.test(inherited)) return inherited;
  return [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

const RUN_ID = initialRunId();

/** This run's id (32 hex digits), set in every child's environment as {@link RUN_ID_ENV}. */
export function runId(): string {
  return RUN_ID;
}

/**
 * The whole environment of a child: the inherited variables of `from`, `LC_ALL=C` (we classify
 * what socat, rsync and openssl print: their messages must be the C locale's English, and
 * rsync's figures without thousands separators of another locale), then `own`, then the run's
 * id ({@link RUN_ID_ENV}).
 */
export function childEnv(
  own: Record<string, string> | undefined,
  from: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const v = from(name);
    if (v !== undefined) env[name] = v;
  }
  return { ...env, LC_ALL: "C", ...own, [RUN_ID_ENV]: RUN_ID };
}

class DenoChild implements Child {
  readonly pid: number;
  readonly status: Promise<ExitStatus>;
  readonly stdin: WritableStream<Uint8Array> | null;
  readonly stdout: ReadableStream<Uint8Array> | null;
  readonly stderr: ReadableStream<Uint8Array> | null;
  exited = false;
  constructor(readonly spec: SpawnSpec, private readonly proc: Deno.ChildProcess) {
    this.pid = proc.pid;
    this.stdin = spec.stdin === "piped" ? proc.stdin : null;
    this.stdout = spec.stdout === "piped" ? proc.stdout : null;
    this.stderr = spec.stderr === "piped" ? proc.stderr : null;
    this.status = proc.status.then((s) => {
      this.exited = true;
      live.delete(this);
      return { code: s.code, signal: s.signal ?? null };
    });
  }
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      if (this.spec.group) Deno.kill(-this.pid, signal);
      else if (!this.exited) this.proc.kill(signal);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) && !(e instanceof TypeError)) throw e;
    }
  }
}

/** The real adapter. */
export const denoAdapter: ProcessAdapter = {
  spawn(spec: SpawnSpec): Child {
    const setpriv = spec.dieWithParent ? which("setpriv") : null;
    const [cmd, args] = setpriv
      ? [setpriv, ["--pdeathsig", "KILL", "--", spec.cmd, ...spec.args]]
      : [spec.cmd, [...spec.args]];
    const command = new Deno.Command(cmd, {
      args,
      cwd: spec.cwd,
      clearEnv: true,
      env: childEnv(spec.env),
      stdin: spec.stdin ?? "null",
      stdout: spec.stdout ?? "null",
      stderr: spec.stderr ?? "inherit",
      detached: spec.group ?? false,
    });
    const child = new DenoChild(spec, command.spawn());
    live.add(child);
    return child;
  },
};

export { sleep } from "./wait.ts";

/**
 * Stops a child: SIGTERM (to its group), then SIGKILL after `graceMs`. Resolves when it has
 * exited; the SIGKILL wait is bounded too.
 */
export async function stop(child: Child, graceMs = 3000): Promise<void> {
  child.kill("SIGTERM");
  if (await settlesWithin(child.status, graceMs)) {
    // A group leader may have left descendants behind.
    if (child.spec.group) child.kill("SIGKILL");
    return;
  }
  child.kill("SIGKILL");
  await settlesWithin(child.status, 5000);
}

/** Stops every child still running, in parallel. */
export async function stopAll(graceMs = 3000): Promise<void> {
  await Promise.all([...live].map((c) => stop(c, graceMs)));
}

/** Children started and not yet exited (for diagnostics and tests). */
export function liveChildren(): readonly Child[] {
  return [...live];
}

/** True if `p` settles within `ms`; rejects with `signal`'s reason if it aborts first. */
export function settlesWithin(
  p: Promise<unknown>,
  ms: number,
  signal?: AbortSignal,
): Promise<boolean> {
  return withDeadline(p.then(() => true, () => true), { ms, signal, onTimeout: () => false });
}

/** Result of {@link run}. */
export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a short-lived program to completion and captures its output. The wait is bounded by
 * `timeoutMs`; on expiry the child is killed and `timedOut` is set. When `signal` aborts
 * first, the child is killed and `run` rejects with the signal's reason.
 */
export async function run(
  adapter: ProcessAdapter,
  spec: Omit<SpawnSpec, "stdout" | "stderr">,
  opts: { timeoutMs: number; input?: string; signal?: AbortSignal },
): Promise<RunResult> {
  opts.signal?.throwIfAborted();
  const child = adapter.spawn({
    ...spec,
    stdin: opts.input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    group: true,
  });
  if (opts.input !== undefined && child.stdin) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.input)).catch(() => {});
    await w.close().catch(() => {});
  }
  const out = readAll(child.stdout);
  const err = readAll(child.stderr);
  let timedOut: boolean;
  try {
    timedOut = !(await settlesWithin(child.status, opts.timeoutMs, opts.signal));
  } catch (e) {
    await stop(child, 1000);
    await Promise.all([out, err]).catch(() => {});
    throw e;
  }
  if (timedOut) await stop(child, 1000);
  const status = await child.status;
  return { ...status, stdout: await out, stderr: await err, timedOut };
}

async function readAll(stream: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!stream) return "";
  return await new Response(stream).text();
}

/** Finds an executable in PATH (no shell involved). Returns its absolute path or null. */
export function which(name: string, path = Deno.env.get("PATH") ?? ""): string | null {
  if (name.includes("/")) return isExecutable(name) ? name : null;
  for (const dir of path.split(":")) {
    if (!dir) continue;
    const candidate = `${dir.replace(/\/+$/, "").replace(/\/{2,}/g, "/")}/${name}`;
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(p: string): boolean {
  try {
    const st = Deno.statSync(p);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}
