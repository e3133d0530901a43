/**
 * Whether the joiner can hold the copy, known before the donor locks anything.
 *
 * The joiner writes, before it prints `ready`, a report in a private directory that its rsync
 * daemon serves read-only (module `rsync_tunnel_sst-space`, with the per-SST secret like every
 * other module): for each module the directory it writes, that directory's file system (mount
 * point) and its free bytes, and every file it already holds where the SST writes (module,
 * path, bytes on disk: held_files.ts). The donor fetches it with one rsync through the same
 * verified tunnel, right after it planned the copy and before any pre-copy or `flush tables`,
 * and adds up per file system what its files need: rsync writes every file in place
 * (`--inplace`, with or without delta transfer), so a file the joiner holds needs only its
 * growth. It counts conservatively: every file rounded up to 4 KiB blocks, files the joiner
 * would delete (`--delete`) not counted as freed, binary logs whole (they arrive in a staging
 * directory beside the old ones).
 *
 * Why a fetched file rather than more of the `ready` address: the joiner's holdings name files
 * (thousands of tables) and the address is one short line; and the donor alone knows what it
 * will send, so the sum is made there. The report is taken once, seconds before the donor reads
 * it; a disk that fills later still fails the SST as before (rsync's "No space left").
 *
 * @module
 */
import { ExitCode, SstError, TimeoutError, TransferError } from "../core/errors.ts";
import * as log from "../core/log.ts";
import type { DiskFree } from "../proc/disk_free.ts";
import { run } from "../proc/process.ts";
import type { HeldFile } from "./held_files.ts";
import { Modules, RSYNC_USER } from "./rsyncd_config.ts";
import { explainFailure, type Tunnel } from "./rsync_runner.ts";
import { formatBytes } from "./progress.ts";

/** The report's file name in the joiner's `space` module. */
export const SPACE_FILE = "joiner_space";
const FORMAT = "wsrep_sst_rsync_tunnel space 1";
/** Largest report the donor reads (a joiner holding a million files stays below). */
const MAX_REPORT_BYTES = 256 * 1024 ** 2;
/** Files take whole blocks of at least this size on every file system we meet. */
const BLOCK = 4096;

/** The directory a module writes on the joiner and its file system. */
export interface ModuleSpace {
  /** The joiner's directory. */
  dir: string;
  /** The server option that places it (for messages). */
  option: string;
  /** Its file system's mount point and free bytes, or null when the joiner could not tell. */
  fs: { mount: string; free: number } | null;
}

/** What the joiner publishes. */
export interface SpaceReport {
  modules: Record<string, ModuleSpace>;
  /** Why the joiner could not measure its free space, if it could not. */
  error?: string;
  /** Bytes on disk of each file it holds, by module and path. */
  held: Record<string, Record<string, number>>;
}

/** A module's directory on the joiner, as {@link spaceReport} takes it. */
export interface ModuleDir {
  module: string;
  dir: string;
  option: string;
}

/** The report from the joiner's facts (`free` in the order of `dirs`, or df's error). */
export function spaceReport(
  dirs: readonly ModuleDir[],
  free: readonly DiskFree[] | { error: string },
  files: readonly HeldFile[],
): SpaceReport {
  const modules: Record<string, ModuleSpace> = {};
  for (const [i, d] of dirs.entries()) {
    const fs = "error" in free ? null : { mount: free[i].mount, free: free[i].free };
    modules[d.module] = { dir: d.dir, option: d.option, fs };
  }
  const held: Record<string, Record<string, number>> = {};
  for (const f of files) (held[f.module] ??= {})[f.rel] = f.allocated;
  return "error" in free ? { modules, held, error: free.error } : { modules, held };
}

/** The report as the file the joiner serves. */
export function renderSpace(r: SpaceReport): string {
  return JSON.stringify({ format: FORMAT, ...r }) + "\n";
}

/** Parses the joiner's report; throws a {@link TransferError} naming what is wrong. */
export function parseSpace(text: string): SpaceReport {
  const bad = (why: string) =>
    new TransferError(`the joiner's space report is invalid (${why}); the SST is not trusted`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  const o = v as Record<string, unknown>;
  if (typeof o !== "object" || o === null || o.format !== FORMAT) throw bad("unknown format");
  const modules = o.modules as Record<string, ModuleSpace>;
  const held = o.held as Record<string, Record<string, number>>;
  if (typeof modules !== "object" || modules === null) throw bad("no modules");
  if (typeof held !== "object" || held === null) throw bad("no held files");
  for (const m of Object.values(modules)) {
    const fsOk = m?.fs === null ||
      (typeof m?.fs?.mount === "string" && Number.isSafeInteger(m.fs.free) && m.fs.free >= 0);
    if (typeof m?.dir !== "string" || typeof m.option !== "string" || !fsOk) {
      throw bad("a module without directory or file system");
    }
  }
  for (const files of Object.values(held)) {
    if (typeof files !== "object" || files === null) throw bad("held files not a map");
    if (!Object.values(files).every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw bad("held file sizes not byte counts");
    }
  }
  const error = typeof o.error === "string" ? o.error : undefined;
  return error === undefined ? { modules, held } : { modules, held, error };
}

/** A file the donor sends: its module, path in it and length. */
export interface OutgoingFile {
  module: string;
  rel: string;
  size: number;
}

/** One file system of the joiner: what the copy needs there and what is free. */
export interface FsNeed {
  mount: string;
  /** The joiner's directories on it (`option=dir`). */
  dirs: string[];
  needed: number;
  free: number;
}

/**
 * What the copy needs on each of the joiner's file systems, or null when the joiner could not
 * tell its free space. A file the joiner holds needs only its growth; every file is rounded up
 * to whole 4 KiB blocks; a module the report does not name (a newer donor's) counts nowhere.
 */
export function spaceNeeds(r: SpaceReport, files: readonly OutgoingFile[]): FsNeed[] | null {
  const byMount = new Map<string, FsNeed>();
  for (const [name, m] of Object.entries(r.modules)) {
    if (m.fs === null) return null;
    const fs = byMount.get(m.fs.mount) ??
      { mount: m.fs.mount, dirs: [], needed: 0, free: m.fs.free };
    const where = `${m.option}=${m.dir}`;
    if (name !== Modules.complete && !fs.dirs.includes(where)) fs.dirs.push(where);
    byMount.set(m.fs.mount, fs);
  }
  for (const f of files) {
    const fs = r.modules[f.module]?.fs;
    if (!fs) continue;
    const blocks = Math.ceil(f.size / BLOCK) * BLOCK;
    byMount.get(fs.mount)!.needed += Math.max(0, blocks - (r.held[f.module]?.[f.rel] ?? 0));
  }
  return [...byMount.values()];
}

/** The joiner cannot hold the copy: exit 28 (ENOSPC), before anything is locked or sent. */
export class JoinerSpaceError extends SstError {
  constructor(message: string) {
    super(ExitCode.noSpace, message);
    this.name = "JoinerSpaceError";
  }
}

/** The error for the first file system in `needs` that cannot hold its part, or null. */
export function spaceShortfall(needs: readonly FsNeed[]): JoinerSpaceError | null {
  const short = needs.find((n) => n.needed > n.free);
  if (!short) return null;
  return new JoinerSpaceError(
    `the joiner cannot hold this copy: its file system ${short.mount} (${
      short.dirs.join(", ")
    }) needs ${formatBytes(short.needed)} (${short.needed} bytes) and has ${
      formatBytes(short.free)
    } (${short.free} bytes) free; free ${formatBytes(short.needed - short.free)} there or move ` +
      "those directories to a larger file system on the joiner, then restart it; nothing was " +
      "locked or sent",
  );
}

/** One line for the donor's log: what the copy needs where, against what is free. */
export function describeNeeds(needs: readonly FsNeed[]): string {
  return needs.map((n) => `${n.mount}: ${formatBytes(n.needed)} of ${formatBytes(n.free)} free`)
    .join("; ");
}

/**
 * Fetches the joiner's report with one rsync through `tunnel` into `dest` (in the donor's
 * private directory) and parses it.
 */
export async function fetchSpace(tunnel: Tunnel, dest: string): Promise<SpaceReport> {
  const args = [
    "--no-motd",
    `--timeout=${tunnel.idleTimeoutSec}`,
    `--max-size=${MAX_REPORT_BYTES}`,
    `--rsh=${tunnel.rsh.rsh}`,
    `--password-file=${tunnel.passwordFile}`,
    "--",
    `${RSYNC_USER}@joiner::${Modules.space}/${SPACE_FILE}`,
    dest,
  ];
  const r = await run(tunnel.adapter, {
    cmd: tunnel.rsync,
    args,
    env: { ...tunnel.rsh.env, LC_ALL: "C" },
  }, { timeoutMs: (tunnel.idleTimeoutSec + 30) * 1000, signal: tunnel.stop.signal });
  if (r.timedOut) {
    throw new TimeoutError(
      `could not fetch the joiner's free space from ${tunnel.peer}: no answer within ` +
        `${tunnel.idleTimeoutSec + 30} s ([sst] tunnel-idle-timeout=${tunnel.idleTimeoutSec})`,
    );
  }
  if (r.code !== 0) {
    for (const l of r.stderr.split("\n").filter((l) => l.trim())) log.warn(`rsync: ${l}`);
    const job = {
      label: "the joiner's space report",
      selection: { kind: "files" } as const,
      options: [],
      sources: [],
      module: Modules.space,
    };
    throw await explainFailure(job, tunnel, r.code, r.signal, r.stderr);
  }
  return parseSpace(await Deno.readTextFile(dest));
}
