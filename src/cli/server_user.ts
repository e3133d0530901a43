/**
 * The user mariadbd runs as, and what that user may do with a path, judged from the file modes
 * (owner, group, other; POSIX ACLs are not read). `check` run as root checks as that user: the
 * SST runs as mariadbd's user, not as whoever runs `check`.
 *
 * @module
 */
import type { OptionLookup } from "../config/option_lookup.ts";

/** A user and its groups. */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
  groups: readonly number[];
  /** Why this user: `[mysqld] user (file:line)`, `the user running check`, … */
  source: string;
}

/** What is needed of a path. */
export type Need = "read" | "write";

/** Why a user cannot do what is needed, or null when it can. */
export interface Denied {
  /** The path component that stops it. */
  path: string;
  /** What is missing there: `search` (x on a directory), `read`, `write`. */
  missing: "search" | "read" | "write";
  /** `drwx------ root:root`. */
  mode: string;
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function passwdEntry(match: (f: string[]) => boolean): string[] | undefined {
  return readText("/etc/passwd").split("\n").map((l) => l.split(":")).find((f) =>
    f.length >= 4 && match(f)
  );
}

function groupsOf(name: string, gid: number): number[] {
  const out = new Set([gid]);
  for (const line of readText("/etc/group").split("\n")) {
    const f = line.split(":");
    if (f.length >= 4 && f[3].split(",").includes(name)) out.add(Number(f[2]));
  }
  return [...out];
}

function userNamed(name: string, source: string): ServerUser | undefined {
  const f = passwdEntry((e) => e[0] === name) ??
    (/^\d+$/.test(name) ? passwdEntry((e) => e[2] === name) : undefined);
  if (!f) return undefined;
  const gid = Number(f[3]);
  return { name: f[0], uid: Number(f[2]), gid, groups: groupsOf(f[0], gid), source };
}

/** The user running this program. */
function currentUser(): ServerUser {
  const uid = Deno.uid() ?? 0;
  const name = passwdEntry((e) => e[2] === String(uid))?.[0] ?? String(uid);
  const status = readText("/proc/self/status");
  const gid = Number(status.match(/^Gid:\s+(\d+)/m)?.[1] ?? Deno.gid() ?? 0);
  const groups = (status.match(/^Groups:\s*(.*)$/m)?.[1] ?? "").trim().split(/\s+/)
    .filter((g) => g !== "").map(Number);
  return { name, uid, gid, groups: [gid, ...groups], source: "the user running check" };
}

/**
 * The user mariadbd runs as: run as root, `[mysqld] user` (else `mysql`, the user of the
 * packages' systemd unit, when it exists); otherwise the user running check (mariadbd started
 * by a user other than root cannot change user). Undefined when `[mysqld] user` names no user.
 */
export function serverUser(opts: OptionLookup): ServerUser | { unknown: string; where: string } {
  if ((Deno.uid() ?? 0) !== 0) return currentUser();
  const configured = opts.get("--mysqld", "user");
  if (configured !== undefined) {
    const where = opts.origin("--mysqld", "user") ?? "[mysqld] user";
    return userNamed(configured, `[mysqld] user (${where})`) ?? { unknown: configured, where };
  }
  return userNamed(
    "mysql",
    "no [mysqld] user: the mysql user the packages' systemd unit runs it as",
  ) ??
    { ...currentUser(), source: "no [mysqld] user and no mysql user: root" };
}

function modeText(info: Deno.FileInfo): string {
  const m = info.mode ?? 0;
  const bits = "rwxrwxrwx".split("").map((c, i) => (m & (1 << (8 - i))) ? c : "-").join("");
  const owner = passwdEntry((e) => e[2] === String(info.uid))?.[0] ?? String(info.uid);
  const group = readText("/etc/group").split("\n").map((l) => l.split(":"))
    .find((f) => f[2] === String(info.gid))?.[0] ?? String(info.gid);
  return `${info.isDirectory ? "d" : "-"}${bits} ${owner}:${group}`;
}

/** Whether `user` has permission `bit` (4 r, 2 w, 1 x) on a file with this status. */
function permits(user: ServerUser, info: Deno.FileInfo, bit: number): boolean {
  if (user.uid === 0) return bit !== 1 || info.isDirectory || ((info.mode ?? 0) & 0o111) !== 0;
  const m = info.mode ?? 0;
  if (info.uid === user.uid) return (m & (bit << 6)) !== 0;
  if (user.groups.includes(info.gid ?? -1)) return (m & (bit << 3)) !== 0;
  return (m & bit) !== 0;
}

/**
 * Why `user` cannot read (a file; a directory: list and enter) or write (a directory: create
 * in it; a file: change it) `path`; null when it can. `path` must exist; every directory on
 * the way (symbolic links resolved) must be searchable.
 */
export function accessDenied(user: ServerUser, path: string, need: Need): Denied | null {
  const real = Deno.realPathSync(path);
  const parts = real.split("/").filter((p) => p !== "");
  let at = "/";
  for (const part of parts) {
    const info = Deno.statSync(at);
    if (!permits(user, info, 1)) return { path: at, missing: "search", mode: modeText(info) };
    at = at === "/" ? `/${part}` : `${at}/${part}`;
  }
  const info = Deno.statSync(real);
  const bit = need === "read" ? 4 : 2;
  if (!permits(user, info, bit)) return { path: real, missing: need, mode: modeText(info) };
  if (info.isDirectory && !permits(user, info, 1)) {
    return { path: real, missing: "search", mode: modeText(info) };
  }
  return null;
}

/** The nearest existing directory at or above `path` (for one that does not exist yet). */
export function nearestExisting(path: string): string {
  let p = path;
  for (;;) {
    try {
      Deno.statSync(p);
      return p;
    } catch {
      const up = p.replace(/\/[^/]*\/?$/, "") || "/";
      if (up === p) return p;
      p = up;
    }
  }
}
