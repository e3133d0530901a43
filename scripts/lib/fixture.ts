/**
 * A loopback SST fixture: a CA and node certificates, a generated donor datadir, an empty
 * joiner, option files for both, a free port, and checks for leftovers (processes, private
 * files) afterwards.
 *
 * @module
 */
import { type Ca, type Leaf, makeCa, makeLeaf } from "./pki.ts";
import { makeSampleDatadir, sampleLayout } from "./sample_datadir.ts";
import type { ServerLayout } from "../../src/config/settings.ts";
import type { NodeSpec } from "./sst_driver.ts";
import { commandLine, commandName } from "../../src/proc/liveness.ts";
import { tcpListeners } from "../../src/tunnel/listen_check.ts";
import { recordCount } from "./ledger.ts";

/** One side of the fixture. */
export interface FixtureNode extends NodeSpec {
  layout: ServerLayout;
  leaf: Leaf;
  /** Private tmpdir given as `[sst] tmpdir`; must be empty after every run. */
  tmpdir: string;
}

/** Options for {@link makeFixture}. */
export interface FixtureOptions {
  separateDirs?: boolean | "inside";
  /** The joiner's own layout when it differs from the donor's (default `separateDirs`). */
  joinerSeparateDirs?: boolean | "inside";
  binlog?: boolean;
  /** Extra lines for each node's `[sst]` group. */
  sstLines?: string[];
  /** Extra lines for the donor's `[sst]` group only. */
  donorSstLines?: string[];
  bigTableBytes?: number;
  /** More subjectAltName entries for both node certificates (e.g. `IP:10.78.0.2`). */
  extraSans?: string[];
  /**
   * Directory names of the nodes' data trees under the root (default `donor`, `joiner`), e.g.
   * with a space to test such datadirs. Certificates, option files and tmpdirs keep their names.
   */
  dataDirNames?: { donor?: string; joiner?: string };
}

/** The fixture. */
export interface Fixture {
  root: string;
  ca: Ca;
  donor: FixtureNode;
  joiner: FixtureNode;
  port: number;
  address: string;
  cleanup(): Promise<void>;
}

/**
 * Runs `body` on a new fixture; afterwards kills whatever a failed body left running below the
 * fixture's root and removes the fixture, however `body` ended.
 */
export async function withFixture(
  o: FixtureOptions,
  body: (f: Fixture) => Promise<void>,
): Promise<void> {
  const f = await makeFixture(o);
  try {
    await body(f);
  } finally {
    signalAll(pidsMentioning(f.root), "SIGKILL");
    await f.cleanup();
  }
}

/** A TCP port nobody listens on now. */
export function freePort(): number {
  const used = new Set(tcpListeners().map((l) => l.port));
  // Below the kernel's ephemeral range (ip_local_port_range, 32768 and up by default): a port
  // there may be the local end of any outgoing connection of the suite, and binding it then
  // fails with "Address already in use".
  const top = Math.min(32_000, ephemeralLow() - 1);
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * (top - 20000));
    if (!used.has(p)) return p;
  }
}

/** The first port the kernel hands out for outgoing connections (32768 if unknown). */
function ephemeralLow(): number {
  try {
    const first = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim()
      .split(/\s+/)[0];
    return Number(first) > 20_500 ? Number(first) : 32_768;
  } catch {
    return 32_768;
  }
}

function optionFile(l: ServerLayout, ca: Ca, leaf: Leaf, tmpdir: string, extra: string[]): string {
  const lines = [
    "[mysqld]",
    `datadir=${l.datadir}`,
    `innodb_data_home_dir=${l.innodbDataHomeDir}`,
    `innodb_log_group_home_dir=${l.innodbLogGroupHomeDir}`,
    `innodb_undo_directory=${l.innodbUndoDirectory}`,
    `aria_log_dir_path=${l.ariaLogDirPath}`,
    ...(l.binlogBase ? [`log_bin=${l.binlogBase}`] : []),
    "[sst]",
    `tca=${ca.cert}`,
    `tcert=${leaf.cert}`,
    `tkey=${leaf.key}`,
    `tmpdir=${tmpdir}`,
    ...extra,
  ];
  return lines.join("\n") + "\n";
}

/** Builds the fixture under a new temp directory. */
export async function makeFixture(o: FixtureOptions = {}): Promise<Fixture> {
  const root = await Deno.makeTempDir({ prefix: "sst-it." });
  const ca = await makeCa(root, "ca");
  // IPv4 entries before the IPv6 one: socat 1.7.4 stops at the first IPv6 entry (peer_probe.ts).
  const sans = ["DNS:localhost", "IP:127.0.0.1", ...(o.extraSans ?? []), "IP:::1"];
  const donorLeaf = await makeLeaf(root, ca, "donor", { cn: "localhost", sans });
  const joinerLeaf = await makeLeaf(root, ca, "joiner", { cn: "localhost", sans });
  const layoutOpts = {
    root,
    separateDirs: o.separateDirs,
    binlog: o.binlog,
    bigTableBytes: o.bigTableBytes,
  };
  const donorLayout = await makeSampleDatadir({
    ...layoutOpts,
    name: o.dataDirNames?.donor ?? "donor",
  });
  const joinerLayout = sampleLayout({
    ...layoutOpts,
    separateDirs: o.joinerSeparateDirs ?? o.separateDirs,
    name: o.dataDirNames?.joiner ?? "joiner",
  });
  await Deno.mkdir(joinerLayout.datadir, { recursive: true });
  const node = async (name: string, layout: ServerLayout, leaf: Leaf, extra: string[]) => {
    const tmpdir = `${root}/${name}-tmp`;
    await Deno.mkdir(tmpdir);
    const defaultsFile = `${root}/${name}.cnf`;
    await Deno.writeTextFile(defaultsFile, optionFile(layout, ca, leaf, tmpdir, extra));
    return {
      datadir: layout.datadir + "/",
      defaultsFile,
      binlog: layout.binlogBase,
      layout,
      leaf,
      tmpdir,
    };
  };
  const port = freePort();
  return {
    root,
    ca,
    donor: await node("donor", donorLayout, donorLeaf, [
      ...(o.sstLines ?? []),
      ...(o.donorSstLines ?? []),
    ]),
    joiner: await node("joiner", joinerLayout, joinerLeaf, o.sstLines ?? []),
    port,
    address: `127.0.0.1:${port}`,
    cleanup: () => Deno.remove(root, { recursive: true }),
  };
}

/** Processes whose command line mentions `marker` (e.g. the fixture root): leftovers. */
export function processesMentioning(marker: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    const argv = commandLine(pid);
    if (argv && argv.join(" ").includes(marker)) out.push(`${pid}: ${argv.join(" ")}`);
  }
  return out;
}

/** Entries left in a directory. */
export function leftovers(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name);
}

/** PIDs of processes whose command line mentions `marker`, optionally only those named `comm`. */
export function pidsMentioning(marker: string, comm?: string): number[] {
  return processesMentioning(marker)
    .map((l) => Number(l.slice(0, l.indexOf(":"))))
    .filter((pid) => comm === undefined || commandName(pid) === comm);
}

/** Sends `signal` to each PID, ignoring those already gone. */
export function signalAll(pids: readonly number[], signal: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch { /* gone */ }
  }
}

/** Size of `path` in bytes, 0 if it does not exist. */
export function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** Polls `cond` every `stepMs` until it holds (true) or `timeoutMs` passed (false). */
export async function pollUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Waits (bounded) until no process mentions `marker`; returns what is left. */
export async function waitNoProcesses(marker: string, timeoutMs = 10_000): Promise<string[]> {
  await pollUntil(() => processesMentioning(marker).length === 0, timeoutMs, 100);
  return processesMentioning(marker);
}

/** Mounts a tmpfs of `sizeMb` MiB on `dir` (root only); returns the unmount function. */
export async function mountTmpfs(dir: string, sizeMb: number): Promise<() => Promise<void>> {
  const run = async (cmd: string, args: string[]) => {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    if (!r.success) {
      throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
    }
  };
  await run("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m,mode=0755`, "tmpfs", dir]);
  // A lazy unmount if something still has it open (that is reported by the caller's checks).
  return () => run("umount", [dir]).catch(() => run("umount", ["-l", dir]));
}

/**
 * Sets (or, with null, removes) keys of a node's `[sst]` group, which is the last group of the
 * fixture's option files. Values are written as given (quote/escape them as an option file
 * needs).
 */
export async function setSst(
  node: NodeSpec,
  values: Record<string, string | null>,
): Promise<void> {
  const lines = (await Deno.readTextFile(node.defaultsFile)).split("\n").filter((l) => l !== "");
  const sst = lines.indexOf("[sst]");
  const keep = lines.filter((l, i) => {
    if (i <= sst) return true;
    const key = l.slice(0, l.indexOf("=")).trim();
    return !(key in values);
  });
  for (const [k, v] of Object.entries(values)) if (v !== null) keep.push(`${k}=${v}`);
  await Deno.writeTextFile(node.defaultsFile, keep.join("\n") + "\n");
}

/** Absolute path of `tool` in the current PATH (throws if absent). */
export function toolPath(tool: string): string {
  const out = new Deno.Command("sh", { args: ["-c", `command -v ${tool}`] }).outputSync();
  const path = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || !path.startsWith("/")) throw new Error(`${tool} not in PATH`);
  return path;
}

/**
 * Makes `dir` holding symlinks to the given tools (from the current PATH) and scripts
 * (name → `#!/bin/sh` body), for a PATH that lacks or replaces some tool. Returns `dir`.
 */
export async function makeToolDir(
  dir: string,
  tools: string[],
  scripts: Record<string, string> = {},
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  for (const t of tools) await Deno.symlink(toolPath(t), `${dir}/${t}`);
  for (const [name, body] of Object.entries(scripts)) {
    await Deno.writeTextFile(`${dir}/${name}`, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    await Deno.chmod(`${dir}/${name}`, 0o755);
  }
  return dir;
}

/** What the spies recorded: one line per socat/rsync start that is not a version probe. */
export interface ToolSpy {
  /** Directory to put first in PATH. */
  bin: string;
  /** `PATH` value with the spies first. */
  path: string;
  /** socat/rsync invocations recorded so far (version probes excluded). */
  starts(): string[];
}

/**
 * Wrappers named `socat` and `rsync` that log every start except `socat -V` and
 * `rsync --version`, then exec the real tool: proves whether anything was started.
 */
export async function makeToolSpy(dir: string): Promise<ToolSpy> {
  const log = `${dir}/starts.log`;
  const spy = (name: string, probe: string) =>
    `case "$1" in ${probe}) ;; *) echo "${name} $*" >> '${log}' ;; esac\n` +
    `exec '${toolPath(name)}' "$@"`;
  const bin = await makeToolDir(dir, [], {
    socat: spy("socat", "-V"),
    rsync: spy("rsync", "--version"),
  });
  return {
    bin,
    path: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    starts: () => {
      try {
        return Deno.readTextFileSync(log).split("\n").filter((l) => l !== "");
      } catch {
        return [];
      }
    },
  };
}

/** SST state files that must not outlive a run, per datadir. */
const RUN_FILES = ["sst_in_progress", "wsrep_sst.pid", "tables_flushed", "tables_flushed.tmp"];

/**
 * What a finished SST left behind, as readable lines (empty = clean): entries in either
 * private tmpdir and run files (`wsrep_sst.pid`, `sst_in_progress`, `tables_flushed`) in
 * either datadir. Processes are checked separately ({@link waitNoProcesses}).
 */
export function filesLeftBehind(f: Fixture): string[] {
  const out: string[] = [];
  for (const [side, n] of [["donor", f.donor], ["joiner", f.joiner]] as const) {
    for (const e of leftovers(n.tmpdir)) out.push(`${side} tmpdir: ${e}`);
    const names = leftovers(n.layout.datadir);
    for (const r of RUN_FILES) if (names.includes(r)) out.push(`${side} datadir: ${r}`);
  }
  return out;
}

/** Everything a finished run must not leave: helper processes, private files, run markers. */
export function leftoversOf(f: Fixture): string[] {
  return [...processesMentioning(f.root).map((p) => `process ${p}`), ...filesLeftBehind(f)];
}

/** Asserts a run left nothing behind, recording the orphan count in the hardening ledger. */
export function assertNothingLeft(f: Fixture, what: string): void {
  const left = leftoversOf(f);
  const procs = left.filter((l) => l.startsWith("process "));
  recordCount("orphans", `after ${what}`, procs.length, procs.join("; ") || undefined);
  if (left.length > 0) throw new Error(`left behind after ${what}: ${left.join("; ")}`);
}
