/**
 * Drives our program exactly as mariadbd 10.11 does (docs/sst-protocol.md §1.3, §2, §3): starts the joiner
 * with the 10.11 argv, reads its `ready` line, starts the donor with the address and
 * `WSREP_SST_OPT_REMOTE_AUTH` split at the last `@` (or, as MariaDB 11.8 does, with that
 * variable unset and the credentials written to the donor's stdin, docs/sst-protocol.md §1.7), answers
 * `flush tables` by writing `tables_flushed` atomically, and collects every stdout line, stderr
 * and exit status.
 *
 * @module
 */
import { type Child, denoAdapter, settlesWithin, stop } from "../../src/proc/process.ts";

/** The launcher built by `deno task build`. */
export const LAUNCHER = new URL("../../dist/bin/wsrep_sst_rsync_tunnel", import.meta.url).pathname;

/** One node as the driver sees it. */
export interface NodeSpec {
  datadir: string;
  defaultsFile: string;
  binlog?: string;
  /**
   * Working directory of this side (default {@link datadir}, as mariadbd runs it): for tests
   * whose datadir does not exist or cannot be entered.
   */
  cwd?: string;
  /** Extra environment (e.g. PATH without socat, for failure tests). */
  env?: Record<string, string>;
  /**
   * Command put before the program, e.g. `["unshare", "-n", "--", "sh", "-c", script, "sh"]`
   * to run this side in a network namespace; the program and its argv follow it.
   */
  wrap?: string[];
}

/** What happened to one side. */
export interface SideResult {
  lines: string[];
  stderr: string;
  code: number;
  signal: string | null;
}

/** Result of a driven SST. */
export interface SstResult {
  joiner: SideResult;
  donor: SideResult | null;
  /** With `stdinCredentials`: the SQL password written to the donor's stdin. */
  sqlPassword?: string;
}

/** How to run the SST. */
export interface DriveOptions {
  joiner: NodeSpec;
  donor: NodeSpec;
  /** Joiner `--address` (mariadbd's wsrep_sst_receive_address). */
  address: string;
  /** State mariadbd writes into tables_flushed / passes as --gtid. */
  state?: string;
  bypass?: boolean;
  /** Joiner's --parent; defaults to the test process. */
  parent?: number;
  /** Called once the joiner printed ready (e.g. to probe its port). */
  onReady?: (readyAddress: string, joiner: Child) => Promise<void>;
  /** Called when the donor asks to flush, before tables_flushed is written. */
  onFlush?: () => Promise<void>;
  /** Pass `--progress 1` (debug logging). */
  progress?: boolean;
  /** Don't start the donor (joiner-only tests). */
  noDonor?: boolean;
  timeoutMs?: number;
  /** Overrides the REMOTE_AUTH the donor gets (for forged-request tests). */
  remoteAuth?: (real: string) => string;
  /**
   * MariaDB 11.8's way: `WSREP_SST_OPT_REMOTE_AUTH` unset, and the donor's stdin a pipe carrying
   * {@link mariadb118StdinLines} of the (possibly overridden) remote auth, then EOF.
   */
  stdinCredentials?: boolean;
  /** With {@link stdinCredentials}: also set REMOTE_AUTH to this (both channels). */
  envAuthToo?: (real: string) => string;
  /** With {@link stdinCredentials}: never close the donor's stdin (a pipe kept open). */
  stdinKeepOpen?: boolean;
  /** The SST program for both sides (default: our launcher {@link LAUNCHER}). */
  program?: string;
  /** Rewrites the `host:port/path` the donor is given (e.g. to point it at a blackhole). */
  donorAddress?: (readyAddress: string) => string;
  /** Never answer `flush tables` (a mariadbd that cannot flush; no `tables_flushed`). */
  noFlushAnswer?: boolean;
  /** Called with the donor's process as soon as it was started. */
  onDonorStart?: (donor: Child) => void;
  /**
   * What the joiner's side does when the donor failed; default: stop the joiner (SIGTERM to
   * its group, as mariadbd aborts). Runs after the donor exited non-zero.
   */
  onDonorFailure?: (joiner: Child, donor: SideResult) => Promise<void>;
}

/** Default state used by tests. */
export const TEST_STATE = "f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc:13 0";

function defaultsArgs(n: NodeSpec): string[] {
  return ["--defaults-file", n.defaultsFile];
}

/** mariadbd 10.11's joiner argv. */
export function joinerArgv(o: DriveOptions): string[] {
  const a = ["--role", "joiner", "--address", o.address, "--datadir", o.joiner.datadir];
  a.push(...defaultsArgs(o.joiner), "--parent", String(o.parent ?? Deno.pid), "--progress", "0");
  if (o.joiner.binlog) a.push("--binlog", o.joiner.binlog);
  a.push("--mysqld-args", `--defaults-file=${o.joiner.defaultsFile}`, "--wsrep-new-cluster");
  return a;
}

/** mariadbd 10.11's donor argv. */
export function donorArgv(o: DriveOptions, address: string, state: string): string[] {
  const [gtid, dom] = state.split(" ");
  const a = [
    "--role",
    "donor",
    "--address",
    address,
    "--local-port",
    "3306",
    "--socket",
    "/nonexistent.sock",
  ];
  a.push(
    "--progress",
    o.progress ? "1" : "0",
    "--datadir",
    o.donor.datadir,
    ...defaultsArgs(o.donor),
  );
  a.push("--gtid", gtid, "--gtid-domain-id", dom ?? "0");
  if (o.donor.binlog) a.push("--binlog", o.donor.binlog);
  if (o.bypass) a.push("--bypass");
  a.push("--mysqld-args", `--defaults-file=${o.donor.defaultsFile}`);
  return a;
}

/**
 * The four lines MariaDB 11.8 writes to the donor's stdin (docs/sst-protocol.md §1.7): a temporary SQL account
 * and the joiner's remote auth split at its first `:`.
 */
export function mariadb118StdinLines(remoteAuth: string, sqlPassword: string): string {
  const colon = remoteAuth.indexOf(":");
  const user = colon < 0 ? remoteAuth : remoteAuth.slice(0, colon);
  const password = colon < 0 ? "" : remoteAuth.slice(colon + 1);
  return `sst_user=wsrep.sst.261128_151500_testhost\nsst_password=${sqlPassword}\n` +
    `sst_remote_user=${user}\nsst_remote_password=${password}\n`;
}

/** A random 32-character password like the one mariadbd makes for its temporary account. */
export function randomSqlPassword(): string {
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => abc[b % abc.length])
    .join("");
}

function spawnSide(
  argv: string[],
  node: NodeSpec,
  env: Record<string, string>,
  program = LAUNCHER,
  stdin: "null" | "piped" = "null",
): Child {
  const wrap = node.wrap ?? [];
  return denoAdapter.spawn({
    cmd: wrap.length > 0 ? wrap[0] : program,
    args: wrap.length > 0 ? [...wrap.slice(1), program, ...argv] : argv,
    cwd: node.cwd ?? node.datadir,
    env: { ...env, ...node.env },
    stdin,
    stdout: "piped",
    stderr: "piped",
    group: true,
  });
}

/** Reads lines from a child's stdout, calling `onLine` for each. */
async function readLines(
  child: Child,
  onLine: (l: string) => Promise<void> | void,
): Promise<string[]> {
  const lines: string[] = [];
  let buf = "";
  for await (const chunk of child.stdout!.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      await onLine(line);
    }
  }
  if (buf) lines.push(buf);
  return lines;
}

async function finish(
  child: Child,
  lines: Promise<string[]>,
  timeoutMs: number,
): Promise<SideResult> {
  const err = new Response(child.stderr!).text();
  if (!(await settlesWithin(child.status, timeoutMs))) await stop(child, 2000);
  const st = await child.status;
  return { lines: await lines, stderr: await err, code: st.code, signal: st.signal };
}

/** Writes tables_flushed the way mariadbd does (tmp file, then rename). */
export async function writeTablesFlushed(datadir: string, state: string): Promise<void> {
  const tmp = `${datadir}/tables_flushed.tmp`;
  await Deno.writeTextFile(tmp, state + "\n");
  await Deno.rename(tmp, `${datadir}/tables_flushed`);
}

/** Runs a full SST (or IST hand-over) between two nodes, like two mariadbd would. */
export async function driveSst(o: DriveOptions): Promise<SstResult> {
  const timeoutMs = o.timeoutMs ?? 120_000;
  const state = o.state ?? TEST_STATE;
  const baseEnv = { WSREP_SST_OPT_AUTH: "" };
  const joiner = spawnSide(joinerArgv(o), o.joiner, baseEnv, o.program);
  let donorRun: Promise<SideResult> | null = null;
  let sqlPassword: string | undefined;
  const joinerLines = readLines(joiner, async (line) => {
    if (!line.startsWith("ready ")) return;
    const value = line.slice(6);
    const at = value.lastIndexOf("@");
    const realAuth = at < 0 ? "" : value.slice(0, at);
    await o.onReady?.(value, joiner);
    if (o.noDonor) return;
    const env: Record<string, string> = { ...baseEnv };
    const auth = o.remoteAuth ? o.remoteAuth(realAuth) : realAuth;
    if (auth && !o.stdinCredentials) env.WSREP_SST_OPT_REMOTE_AUTH = auth;
    if (o.stdinCredentials && o.envAuthToo) env.WSREP_SST_OPT_REMOTE_AUTH = o.envAuthToo(realAuth);
    const addr = o.donorAddress ? o.donorAddress(value.slice(at + 1)) : value.slice(at + 1);
    const donor = spawnSide(
      donorArgv(o, addr, state),
      o.donor,
      env,
      o.program,
      o.stdinCredentials ? "piped" : "null",
    );
    if (o.stdinCredentials) {
      // mariadbd 11.8 writes the four lines at once, then closes its end.
      sqlPassword = randomSqlPassword();
      const w = donor.stdin!.getWriter();
      await w.write(new TextEncoder().encode(mariadb118StdinLines(auth, sqlPassword)))
        .catch(() => {});
      if (o.stdinKeepOpen) w.releaseLock();
      else await w.close().catch(() => {});
    }
    o.onDonorStart?.(donor);
    const donorLines = readLines(donor, async (l) => {
      if (l === "flush tables" && !o.noFlushAnswer) {
        await o.onFlush?.();
        await writeTablesFlushed(o.donor.datadir, state);
      }
    });
    donorRun = finish(donor, donorLines, timeoutMs);
    const d = await donorRun;
    // mariadbd: a donor that fails tells the group; the joiner's server then aborts.
    if (d.code !== 0) {
      if (o.onDonorFailure) await o.onDonorFailure(joiner, d);
      else await stop(joiner, 5000);
    }
  });
  const j = await finish(joiner, joinerLines, timeoutMs);
  const d = donorRun ? await donorRun : null;
  return { joiner: j, donor: d, sqlPassword };
}

/** How to run a donor alone (against a joiner the test provides, or none). */
export interface DonorOnlyOptions {
  donor: NodeSpec;
  /** The donor's `--address` (what mariadbd passes after the last `@` of `ready`). */
  address: string;
  /** `WSREP_SST_OPT_REMOTE_AUTH`; not set when undefined. */
  remoteAuth?: string;
  state?: string;
  bypass?: boolean;
  timeoutMs?: number;
}

/** Runs only the donor, as mariadbd would, answering `flush tables`. */
export async function driveDonor(o: DonorOnlyOptions): Promise<SideResult> {
  const state = o.state ?? TEST_STATE;
  const env: Record<string, string> = { WSREP_SST_OPT_AUTH: "" };
  if (o.remoteAuth !== undefined) env.WSREP_SST_OPT_REMOTE_AUTH = o.remoteAuth;
  const opts: DriveOptions = { joiner: o.donor, donor: o.donor, address: "", bypass: o.bypass };
  const donor = spawnSide(donorArgv(opts, o.address, state), o.donor, env);
  const lines = readLines(donor, async (l) => {
    if (l === "flush tables") await writeTablesFlushed(o.donor.datadir, state);
  });
  return await finish(donor, lines, o.timeoutMs ?? 60_000);
}
