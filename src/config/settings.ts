/**
 * Everything the program needs to know, gathered from the arguments and the option files
 * (docs/sst-protocol.md §8.3): TLS material, `sockopt`, timeouts, parallelism, binlog policy, and the server's
 * file locations. Relative locations are resolved against the datadir here, once.
 *
 * @module
 */
import type { Role, ServerPaths, SstArgs } from "../core/args.ts";
import { ConfigError } from "../core/errors.ts";
import { OptionLookup } from "./option_lookup.ts";
import { parseSockopt, type SockoptToken } from "./sockopt.ts";
import { wireFrom, type WireSettings } from "./wire_options.ts";
import { type Precopy, precopyFrom } from "./precopy.ts";
import { type Delta, deltaFrom } from "./delta.ts";
import { type Clone, cloneFloorFrom, cloneFrom } from "./clone.ts";
import { sstKey, type SstKeyName, sstOrigin, sstValue } from "./sst_keys.ts";
import { tlsFrom, type TlsSettings } from "./tls_settings.ts";
import { type DonorName, donorNamesFrom } from "./donor_names.ts";
import { type GaleraTls, galeraTlsFrom } from "./galera_tls.ts";
import { type TrxCommit, trxCommitFrom } from "./trx_commit.ts";
import { type SystemTablespace, systemTablespaceFrom } from "./system_tablespace.ts";

export type { TlsSettings } from "./tls_settings.ts";
export type { SystemTablespace } from "./system_tablespace.ts";

/** Where the server keeps its files (absolute, no trailing slash). */
export interface ServerLayout {
  datadir: string;
  innodbDataHomeDir: string;
  innodbLogGroupHomeDir: string;
  innodbUndoDirectory: string;
  ariaLogDirPath: string;
  /**
   * The InnoDB system tablespace (`innodb_data_file_path` placed by `innodb_data_home_dir`).
   * Absent: mariadbd's default, `ibdata1` in {@link innodbDataHomeDir}.
   */
  systemTablespace?: SystemTablespace;
  /**
   * mariadbd's own `tmpdir` (first entry, absolute), when the server's groups set it: a
   * directory of it directly in the datadir is not a schema (see `specialTopLevelDirs`).
   */
  serverTmpdir?: string;
  /** Binary log base path (absolute, without extension), when binary logging is on. */
  binlogBase?: string;
  /** Binary log index file (absolute), when binary logging is on. */
  binlogIndex?: string;
}

/** Bounded waits, in seconds (0 = off where allowed). */
export interface Timeouts {
  /** Donor: TCP+TLS connect to the joiner. `[sst] tunnel-connect-timeout`. */
  connect: number;
  /**
   * Joiner: from `ready` until the donor starts sending (after mariadbd flushed its tables, so
   * keep it above `tunnel-flush-timeout`). `[sst] tunnel-initial-timeout`.
   */
  initial: number;
  /** Both: no byte moved / no connection open for this long. `[sst] tunnel-idle-timeout`. */
  idle: number;
  /** Donor: waiting for mariadbd to flush tables. `[sst] tunnel-flush-timeout`. */
  flush: number;
  /** Both: whole SST; 0 = none. `[sst] tunnel-deadline`. */
  deadline: number;
}

/** The resolved settings. */
export interface Settings {
  layout: ServerLayout;
  tls: TlsSettings;
  sockopt: SockoptToken[];
  sockoptRaw?: string;
  timeouts: Timeouts;
  /** Parallel rsync streams on the donor. */
  backupThreads: number;
  /** Binlogs to ship: 0 none, negative all. */
  maxBinlogs: number;
  /** Where private temporary directories are made. */
  tmpdir: string;
  bindAddress?: string;
  /** Opt-in compression and bandwidth cap of the data passes (`[sst] compress`, `bwlimit`). */
  wire: WireSettings;
  /** Whether the donor pre-copies while the server takes writes (`[sst] precopy`). */
  precopy: Precopy;
  /** Whether the donor's passes use delta transfer (`[sst] delta`; see delta.ts). */
  delta: Delta;
  /** Whether the donor clones the frozen files under the lock (`[sst] clone`; see clone.ts). */
  clone: Clone;
  /** The least free space clones leave on a file system, in bytes (`[sst] clone-floor`). */
  cloneFloor: number;
  /** Joiner: the donor certificate names accepted (`[sst] donor-names`); null: any of the CA. */
  donorNames: DonorName[] | null;
  /** Whether Galera's group channel (which carries the per-SST secret) is encrypted. */
  galeraTls: GaleraTls;
  /** The server's `innodb_flush_log_at_trx_commit` as started (the donor's flush hint). */
  trxCommit: TrxCommit;
}

/** Which option files mariadbd read (its `--defaults-*` options). */
export interface DefaultsFiles {
  /** `--defaults-file`: only this file (and what it includes). */
  defaultsFile?: string;
  /** `--defaults-extra-file`: also this file. */
  defaultsExtraFile?: string;
  /** `--defaults-group-suffix`: also the groups with this suffix. */
  defaultsGroupSuffix?: string;
}

/**
 * What settings are resolved from besides the option files: the role, and what mariadbd said
 * on the command line (an SST builds it from its arguments, {@link settingsInputOf}; `check`
 * from its flags).
 */
export interface SettingsInput {
  role: Role;
  /** The datadir mariadbd passed; absent: `[mysqld] datadir`, else {@link COMPILED_DATADIR}. */
  datadir?: string;
  /** Directory options from mariadbd's own arguments (they win over the option files). */
  server?: ServerPaths;
  /** `--binlog` / `--binlog-index` of the SST call. */
  binlog?: string;
  binlogIndex?: string;
}

/** The datadir mariadbd uses when no option names one (Debian's and upstream's build). */
export const COMPILED_DATADIR = "/var/lib/mysql";

/** The input of an SST: its parsed arguments, as mariadbd passed them. */
export function settingsInputOf(args: SstArgs): SettingsInput & { defaults: DefaultsFiles } {
  return {
    role: args.role,
    datadir: args.datadir,
    server: args.server,
    binlog: args.binlog,
    binlogIndex: args.binlogIndex,
    defaults: {
      defaultsFile: args.defaultsFile,
      defaultsExtraFile: args.defaultsExtraFile,
      defaultsGroupSuffix: args.defaultsGroupSuffix,
    },
  };
}

/** Defaults of the `[sst]` timeout keys, in seconds. */
export const DEFAULT_TIMEOUTS: Timeouts = {
  connect: 30,
  initial: 900,
  idle: 300,
  flush: 600,
  deadline: 0,
};

/** Resolves `p` against `base` unless absolute; strips trailing slashes. */
export function resolveDir(base: string, p: string | undefined): string {
  const b = base.replace(/\/+$/, "");
  if (p === undefined || p === "" || p === "." || p === "./") return b;
  const abs = p.startsWith("/") ? p : `${b}/${p.replace(/^\.\//, "")}`;
  return abs.length > 1 ? abs.replace(/\/+$/, "") : abs;
}

function integerSetting(
  opts: OptionLookup,
  key: SstKeyName,
  fallback: number,
  min: number,
): number {
  const raw = sstValue(opts, key);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw) || Number(raw) < min) {
    throw new ConfigError(
      `option ${key}=${raw} (${sstOrigin(opts, key) ?? sstKey(key).groups}) must be an ` +
        `integer ≥ ${min}`,
    );
  }
  return Number(raw);
}

function layoutFrom(args: SettingsInput, opts: OptionLookup): ServerLayout {
  const pick = (fromArgs: string | undefined, key: string) => fromArgs ?? opts.get("--mysqld", key);
  const datadir = resolveDir("/", args.datadir ?? pick(undefined, "datadir") ?? COMPILED_DATADIR);
  const s = args.server ?? {};
  const homeRaw = pick(s.innodbDataHomeDir, "innodb-data-home-dir") ??
    // Set but empty: InnoDB then takes every innodb_data_file_path name as written.
    (opts.has("--mysqld", "innodb-data-home-dir") ? "" : undefined);
  const dataHome = resolveDir(datadir, homeRaw);
  const layout: ServerLayout = {
    datadir,
    innodbDataHomeDir: dataHome,
    innodbLogGroupHomeDir: resolveDir(
      datadir,
      pick(s.innodbLogGroupHomeDir, "innodb-log-group-home-dir"),
    ),
    innodbUndoDirectory: resolveDir(
      datadir,
      pick(s.innodbUndoDirectory, "innodb-undo-directory"),
    ),
    ariaLogDirPath: resolveDir(datadir, pick(s.ariaLogDirPath, "aria-log-dir-path")),
    systemTablespace: systemTablespaceFrom(
      datadir,
      homeRaw,
      pick(s.innodbDataFilePath, "innodb-data-file-path"),
      s.innodbDataFilePath !== undefined
        ? "mariadbd's argument --innodb-data-file-path"
        : opts.source("--mysqld", "innodb-data-file-path")?.where ?? "[mysqld]",
    ),
    serverTmpdir: serverTmpdir(datadir, opts.get("--mysqld", "tmpdir")),
  };
  return { ...layout, ...binlogFrom(args, opts, datadir) };
}

function binlogFrom(
  args: SettingsInput,
  opts: OptionLookup,
  datadir: string,
): Pick<ServerLayout, "binlogBase" | "binlogIndex"> {
  const server = args.server ?? {};
  let base = args.binlog ?? server.logBin;
  if (base === undefined && opts.has("--mysqld", "log-bin")) {
    base = opts.get("--mysqld", "log-bin") ?? "";
  }
  if (base === undefined || base === "0") return {};
  if (base === "") {
    const basename = server.logBasename ?? opts.get("--mysqld", "log-basename");
    base = basename ? `${basename}-bin` : "mysql-bin";
  }
  base = base.replace(/\.[0-9]+$/, "").replace(/\.index$/, "");
  const absBase = resolveDir(datadir, base);
  const index = args.binlogIndex ?? server.logBinIndex ??
    opts.get("--mysqld", "log-bin-index");
  // As mariadbd: a relative index name is relative to the datadir, and `.index` is added only
  // when the name has no extension.
  const absIndex = index && index !== "0"
    ? resolveDir(
      datadir,
      /\.[^/]*$/.test(index.slice(index.lastIndexOf("/") + 1)) ? index : `${index}.index`,
    )
    : `${absBase}.index`;
  return { binlogBase: absBase, binlogIndex: absIndex };
}

function timeoutsFrom(opts: OptionLookup): Timeouts {
  const t = (key: SstKeyName, def: number, min: number) => integerSetting(opts, key, def, min);
  return {
    connect: t("tunnel-connect-timeout", DEFAULT_TIMEOUTS.connect, 1),
    initial: t("tunnel-initial-timeout", DEFAULT_TIMEOUTS.initial, 1),
    idle: t("tunnel-idle-timeout", DEFAULT_TIMEOUTS.idle, 1),
    flush: t("tunnel-flush-timeout", DEFAULT_TIMEOUTS.flush, 1),
    deadline: t("tunnel-deadline", DEFAULT_TIMEOUTS.deadline, 0),
  };
}

/**
 * Reads the option files mariadbd read; `onWarning` gets what MariaDB ignores silently (a
 * missing `!include`, a world-writable file).
 */
export async function loadOptions(
  defaults: DefaultsFiles,
  onWarning?: (message: string) => void,
): Promise<OptionLookup> {
  return await OptionLookup.load({
    defaultsFile: defaults.defaultsFile,
    extraFile: defaults.defaultsExtraFile,
    groupSuffix: defaults.defaultsGroupSuffix,
    onWarning,
  });
}

/** Reads the option files named by `input.defaults` and resolves all settings. */
export async function loadSettings(
  input: SettingsInput & { defaults: DefaultsFiles },
  cpuCount: number,
): Promise<Settings> {
  return settingsFrom(input, await loadOptions(input.defaults), cpuCount);
}

/** Resolves settings from already loaded options (pure; used by tests). */
export function settingsFrom(args: SettingsInput, opts: OptionLookup, cpuCount: number): Settings {
  const sockoptRaw = sstValue(opts, "sockopt");
  return {
    layout: layoutFrom(args, opts),
    tls: tlsFrom(opts, args.role),
    sockopt: parseSockopt(sockoptRaw),
    sockoptRaw,
    timeouts: timeoutsFrom(opts),
    backupThreads: integerSetting(opts, "backup-threads", cpuCount, 1),
    maxBinlogs: integerSetting(opts, "sst-max-binlogs", 1, Number.MIN_SAFE_INTEGER),
    tmpdir: firstTmpdir(sstValue(opts, "tmpdir") ?? Deno.env.get("TMPDIR")),
    bindAddress: opts.get("--mysqld", "bind-address"),
    wire: wireFrom(opts),
    precopy: precopyFrom(opts),
    delta: deltaFrom(opts),
    clone: cloneFrom(opts),
    cloneFloor: cloneFloorFrom(opts),
    donorNames: donorNamesFrom(opts),
    galeraTls: galeraTlsFrom(opts),
    trxCommit: trxCommitFrom(opts, args.server?.innodbFlushLogAtTrxCommit),
  };
}

/** mariadbd's own tmpdir (its first entry), relative to the datadir where mariadbd runs. */
function serverTmpdir(datadir: string, raw: string | undefined): string | undefined {
  const first = (raw ?? "").split(":")[0];
  return first === "" ? undefined : resolveDir(datadir, first);
}

/** mariadbd's `tmpdir` may list several directories separated by `:`; we use the first. */
function firstTmpdir(raw: string | undefined): string {
  const first = (raw ?? "").split(":")[0];
  return first.startsWith("/") ? resolveDir("/", first) : "/tmp";
}
