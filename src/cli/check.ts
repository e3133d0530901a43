/**
 * `wsrep_sst_rsync_tunnel check`: the pre-flight an operator runs before trusting a node to
 * SST, a dry run of both roles as mariadbd would start them. Uses exactly the code an SST uses
 * (option files and groups, settings, tools, certificates) and adds what only a dry run can
 * see: keys in the wrong place, every path as the server's user, our certificate against the
 * names donors use, the port, free space. One line per finding, naming the key or file and the
 * fix; exit 0 only when no finding is an error, else the exit code the SST would end with.
 *
 * @module
 */
import type { ProcessAdapter } from "../proc/process.ts";
import type { Role } from "../core/args.ts";
import {
  COMPILED_DATADIR,
  type DefaultsFiles,
  loadOptions,
  type Settings,
  settingsFrom,
} from "../config/settings.ts";
import type { OptionLookup } from "../config/option_lookup.ts";
import { misplacedKeys } from "../config/key_placement.ts";
import { SST_KEYS, sstOrigin } from "../config/sst_keys.ts";
import { findTools } from "../proc/tools.ts";
import { checkTls, type TlsSetup } from "../tunnel/tls_setup.ts";
import { ConfigError } from "../core/errors.ts";
import { CheckReport } from "./check_report.ts";
import { type ServerUser, serverUser } from "./server_user.ts";
import { checkPath, reportFreeSpace, serverDirectories, type UsedPath } from "./check_paths.ts";
import { checkOurNames, checkPort } from "./check_names.ts";
import { prepareClones } from "../transfer/clone_pass.ts";
import { Scope } from "../sst/scope.ts";
import { systemTablespaceDir, systemTablespaceOf } from "../transfer/layout_files.ts";

/** Options of the check subcommand. */
export interface CheckOptions {
  /** The option files, as mariadbd would read them. */
  defaults: DefaultsFiles;
  /** The datadir mariadbd passes; default: `[mysqld] datadir`, else the compiled-in one. */
  datadir?: string;
  /** Check one role only; default: both. */
  role?: Role;
}

/** Runs the checks; prints findings to stderr; returns 0 or the SST's exit code. */
export async function runCheck(o: CheckOptions, adapter: ProcessAdapter): Promise<number> {
  const report = new CheckReport();
  const opts = await report.step(() => loadOptions(o.defaults, (w) => report.warn(w)));
  if (!opts) return report.finish();
  checkKeys(report, opts);
  const tools = await report.step(() => findTools(adapter));
  if (tools) {
    report.info(
      `socat ${tools.socatVersion} (${tools.socat}) with OpenSSL; rsync ${tools.rsyncVersion}`,
    );
  }
  const user = await report.step(() => userOf(opts));
  if (user) report.info(`paths checked as ${user.name} (uid ${user.uid}; ${user.source})`);
  const roles: readonly Role[] = o.role ? [o.role] : ["joiner", "donor"];
  for (const role of roles) {
    const settings = await report.step(() => settingsFrom({ role, datadir: o.datadir }, opts, 1));
    if (!settings) continue;
    const first = role === roles[0];
    const paths = usedPaths(settings, o, opts);
    if (first) {
      // The layout is the same for both roles; the first role's needs (the joiner writes) win.
      logLayout(report, settings, o, opts);
      if (user) { for (const p of paths) checkPath(report, p, role, user); }
    }
    const tls = await report.step(() => checkTls(settings, role, adapter));
    if (tls && user) checkTlsFiles(report, tls, role, user, settings);
    if (role === "donor") await report.step(() => checkClones(settings));
    if (role !== "joiner") continue;
    // A joiner receives its system tablespace into one directory: a spread one is refused.
    await report.step(() => systemTablespaceDir(settings.layout));
    if (tls) checkOurNames(report, opts, tls);
    checkPort(report, opts);
    await reportFreeSpace(report, adapter, paths);
  }
  return report.finish();
}

/**
 * The donor's clone capability, as the SST would decide it before `flush tables` (one INFO line
 * per SST: which part clones and why not; `[sst] clone=on` where a part cannot clone is the
 * SST's own refusal). The probe's snapshot directories are removed before this returns.
 */
async function checkClones(settings: Settings): Promise<void> {
  const scope = new Scope();
  try {
    const setup = await prepareClones(settings, scope);
    await setup.snapshots?.removeAll();
  } finally {
    await scope.close();
  }
}

function userOf(opts: OptionLookup): ServerUser {
  const u = serverUser(opts);
  if ("unknown" in u) {
    throw new ConfigError(
      `[mysqld] user=${u.unknown} (${u.where}) names no user of this host; create it or fix ` +
        "the key",
    );
  }
  return u;
}

function checkKeys(report: CheckReport, opts: OptionLookup): void {
  for (const m of misplacedKeys(opts)) {
    const e = m.entry;
    const at = `${e.file}:${e.line} [${e.group}] ${e.name}`;
    switch (m.kind) {
      case "unknown":
        report.warn(
          `${at}: unknown key, ignored by the SST; ` +
            (m.nearest
              ? `did you mean ${m.nearest}?`
              : "remove it (see man wsrep_sst_rsync_tunnel)"),
        );
        break;
      case "server-refuses":
        report.error(
          new ConfigError(
            `${at}: mariadbd does not know '${m.key}' and refuses to start (unknown variable); ` +
              `move it to [sst]` +
              (alsoServerGroups(m.key) ? ` or write it as loose-${m.key}` : ""),
          ),
        );
        break;
    }
  }
}

/** Keys this program also reads from the server's groups (then `loose-` keeps mariadbd quiet). */
function alsoServerGroups(key: string): boolean {
  return SST_KEYS.some((k) => k.name === key && k.groups === "--mysqld|sst");
}

function describeDatadir(o: CheckOptions, opts: OptionLookup): string {
  if (o.datadir !== undefined) return "check --datadir";
  const from = opts.origin("--mysqld", "datadir");
  return from
    ? `[mysqld] datadir (${from})`
    : `no [mysqld] datadir: the compiled-in ${COMPILED_DATADIR}`;
}

function logLayout(report: CheckReport, s: Settings, o: CheckOptions, opts: OptionLookup): void {
  const l = s.layout;
  report.info(
    `layout: datadir ${l.datadir} from ${describeDatadir(o, opts)}, data home ` +
      `${l.innodbDataHomeDir}, system tablespace ${systemTablespaceOf(l).files.join(";")}, ` +
      `redo ${l.innodbLogGroupHomeDir}, undo ${l.innodbUndoDirectory}, ` +
      `aria ${l.ariaLogDirPath}, binlog ${l.binlogBase ?? "off"}`,
  );
}

/** Every directory the SST of this role reads or writes, with the setting naming it. */
function usedPaths(s: Settings, o: CheckOptions, opts: OptionLookup): UsedPath[] {
  const where = (key: string) => {
    if (key === "datadir") return describeDatadir(o, opts);
    const from = opts.origin("--mysqld", key);
    return from ? `[mysqld] ${key} (${from})` : `[mysqld] ${key} (default)`;
  };
  const tmpFrom = sstOrigin(opts, "tmpdir");
  return [
    ...serverDirectories(s.layout, where),
    {
      path: s.tmpdir,
      setting: tmpFrom ? `tmpdir (${tmpFrom})` : "tmpdir ($TMPDIR or /tmp)",
      mustExist: true,
      kind: "directory",
      need: "write",
    },
  ];
}

/** The TLS files, readable by the server's user (check may run as root, the SST does not). */
function checkTlsFiles(
  report: CheckReport,
  tls: TlsSetup,
  role: Role,
  user: ServerUser,
  s: Settings,
): void {
  const n = s.tls.names;
  const file = (path: string, f: "cert" | "key" | "ca"): UsedPath => ({
    path,
    setting: n[f].where ?? n[f].setting,
    mustExist: true,
    kind: "file",
    need: "read",
  });
  const files = [file(tls.certFile, "cert"), file(tls.keyFile, "key")];
  if (tls.caFile) files.push(file(tls.caFile, "ca"));
  if (tls.caPath) {
    files.push({
      path: tls.caPath,
      setting: n.caPath.where ?? n.caPath.setting,
      mustExist: true,
      kind: "directory",
      need: "read",
    });
  }
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) continue;
    seen.add(f.path);
    checkPath(report, f, role, user);
  }
}
