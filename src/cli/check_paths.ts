/**
 * `check`'s look at every directory and file an SST reads or writes, as the user mariadbd runs
 * as: the datadir (it must exist), the server's other directories (the joiner creates missing
 * ones, so their nearest existing parent must be writable), `tmpdir`, the TLS files; and the
 * file systems the joiner writes, with their free space.
 *
 * @module
 */
import type { ServerLayout } from "../config/settings.ts";
import { type ProcessAdapter, run } from "../proc/process.ts";
import { ExitCode, SstError } from "../core/errors.ts";
import type { Role } from "../core/args.ts";
import { formatBytes } from "../transfer/progress.ts";
import { accessDenied, nearestExisting, type Need, type ServerUser } from "./server_user.ts";
import type { CheckReport } from "./check_report.ts";

/** One path an SST uses, and the setting that names it. */
export interface UsedPath {
  path: string;
  /** `[mysqld] datadir`, `[sst] tmpdir`, … (with file:line when known). */
  setting: string;
  /** Must exist (the datadir, tmpdir); others are created by the joiner. */
  mustExist: boolean;
  kind: "directory" | "file";
  /** What the SST does with it; default: the joiner writes, the donor reads. */
  need?: Need;
}

/** Below this much free space on a joiner file system, `check` warns. */
const LOW_SPACE = 1024 ** 3;

/** The server's directories an SST of `role` uses (binary log directory included). */
export function serverDirectories(l: ServerLayout, where: (key: string) => string): UsedPath[] {
  const dir = (path: string, key: string, mustExist = false): UsedPath => ({
    path,
    setting: where(key),
    mustExist,
    kind: "directory",
  });
  const dirs = [
    dir(l.datadir, "datadir", true),
    dir(l.innodbDataHomeDir, "innodb_data_home_dir"),
    dir(l.innodbLogGroupHomeDir, "innodb_log_group_home_dir"),
    dir(l.innodbUndoDirectory, "innodb_undo_directory"),
    dir(l.ariaLogDirPath, "aria_log_dir_path"),
  ];
  if (l.binlogBase) dirs.push(dir(l.binlogBase.replace(/\/[^/]*$/, "") || "/", "log_bin"));
  const seen = new Set<string>();
  return dirs.filter((d) => !seen.has(d.path) && seen.add(d.path));
}

function exists(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** Checks one path for `role` as `user`; reports a problem as the SST would fail on it. */
export function checkPath(report: CheckReport, p: UsedPath, role: Role, user: ServerUser): void {
  const info = exists(p.path);
  const need: Need = p.need ?? (role === "joiner" ? "write" : "read");
  if (!info) {
    if (role === "donor" && !p.mustExist) {
      report.warn(`donor: ${p.setting}: ${p.path} does not exist; fix ${p.setting} if it is wrong`);
      return;
    }
    if (p.mustExist) {
      report.error(
        new SstError(
          ExitCode.notFound,
          `${role}: ${p.setting}: ${p.path} does not exist; create it (owned by ${user.name}) ` +
            `or fix ${p.setting}`,
        ),
      );
      return;
    }
    const parent = nearestExisting(p.path);
    const denied = accessDenied(user, parent, "write");
    if (denied) {
      report.error(deniedError(role, p, user, denied, `create ${p.path} in`));
    }
    return;
  }
  if (p.kind === "directory" && !info.isDirectory) {
    report.error(
      new SstError(
        ExitCode.notDirectory,
        `${role}: ${p.setting}: ${p.path} is not a directory; fix ${p.setting}`,
      ),
    );
    return;
  }
  const denied = accessDenied(user, p.path, need);
  if (denied) report.error(deniedError(role, p, user, denied, need));
}

function deniedError(
  role: Role,
  p: UsedPath,
  user: ServerUser,
  d: NonNullable<ReturnType<typeof accessDenied>>,
  doing: string,
): SstError {
  const fix = d.missing === "search"
    ? `chmod o+x ${d.path} (or make ${user.name} its group)`
    : p.kind === "file"
    ? `chown ${user.name} ${d.path} (or chgrp ${user.name} and chmod g+r)`
    : `chown ${user.name} ${d.path}`;
  return new SstError(
    ExitCode.access,
    `${role}: ${p.setting}: ${user.name} (uid ${user.uid}, the server's user) cannot ` +
      `${doing} ${p.path}: no ${d.missing} permission on ${d.path} (${d.mode}); ${fix}`,
  );
}

/** The file system of `path` (nearest existing): its mount point, type and free bytes. */
async function fileSystem(
  adapter: ProcessAdapter,
  path: string,
): Promise<{ mount: string; type: string; free: number } | null> {
  const at = nearestExisting(path);
  const fs = await run(adapter, { cmd: "stat", args: ["-f", "-c", "%T %a %S", "--", at] }, {
    timeoutMs: 10_000,
  });
  const mount = await run(adapter, { cmd: "stat", args: ["-c", "%m", "--", at] }, {
    timeoutMs: 10_000,
  });
  const f = fs.stdout.trim().split(/\s+/);
  if (fs.code !== 0 || f.length !== 3) return null;
  return {
    mount: mount.code === 0 ? mount.stdout.trim() : "?",
    type: f[0],
    free: Number(f[1]) * Number(f[2]),
  };
}

/** One line per file system the joiner writes: mount point, type, free space, what is there. */
export async function reportFreeSpace(
  report: CheckReport,
  adapter: ProcessAdapter,
  paths: readonly UsedPath[],
): Promise<void> {
  const byMount = new Map<string, { type: string; free: number; what: string[] }>();
  for (const p of paths) {
    const fs = await fileSystem(adapter, p.path);
    if (!fs) continue;
    const entry = byMount.get(fs.mount) ?? { type: fs.type, free: fs.free, what: [] };
    entry.what.push(`${p.setting.replace(/ \(.*\)$/, "")} ${p.path}`);
    byMount.set(fs.mount, entry);
  }
  for (const [mount, fs] of byMount) {
    const line = `joiner: free space on ${mount} (${fs.type}): ${formatBytes(fs.free)} for ` +
      fs.what.join(", ");
    if (fs.free < LOW_SPACE) {
      report.warn(`${line}; the SST needs room for the donor's whole data set: free some space`);
    } else {
      report.info(line);
    }
  }
}
