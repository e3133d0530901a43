/**
 * The mariadbd → script argument contract (docs/sst-protocol.md §1.3, §1.4, §1.7).
 *
 * mariadbd passes `--name value` pairs (numbers quoted before 10.11), then optionally
 * `--mysqld-args` followed by its own argv, which is never read as SST options; from it only
 * the directory options are taken. Unknown options are ignored.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConfigError } from "./errors.ts";

/** Which side of the transfer we are. */
export type Role = "joiner" | "donor";

/** The parsed arguments. Paths are as given (relative ones are relative to `datadir`). */
export interface SstArgs {
  role: Role;
  address: string;
  datadir: string;
  defaultsFile?: string;
  defaultsExtraFile?: string;
  defaultsGroupSuffix?: string;
  parent?: number;
  progress: boolean;
  binlog?: string;
  binlogIndex?: string;
  localPort?: number;
  socket?: string;
  gtid?: string;
  gtidDomainId?: string;
  bypass: boolean;
  /** Directory options found in `--mysqld-args` (or explicit SST options, which win). */
  server: ServerPaths;
}

/** Server file locations (and the one other server option we read) that may come with the arguments. */
export interface ServerPaths {
  innodbDataHomeDir?: string;
  /** `innodb_data_file_path` (system tablespace files), from mariadbd's argv only. */
  innodbDataFilePath?: string;
  innodbLogGroupHomeDir?: string;
  innodbUndoDirectory?: string;
  ariaLogDirPath?: string;
  logBin?: string;
  logBinIndex?: string;
  logBasename?: string;
  /** `innodb_flush_log_at_trx_commit` (config/trx_commit.ts), from mariadbd's argv only. */
  innodbFlushLogAtTrxCommit?: string;
}

const stringOptions = [
  "role",
  "address",
  "datadir",
  "defaults-file",
  "defaults-extra-file",
  "defaults-group-suffix",
  "parent",
  "progress",
  "binlog",
  "binlog-index",
  "log-bin",
  "log-bin-index",
  "log-basename",
  "local-port",
  "socket",
  "gtid",
  "gtid-domain-id",
  "host",
  "port",
  "user",
  "password",
  "aria-log-dir-path",
  "innodb-data-home-dir",
  "innodb-log-group-home-dir",
  "innodb-undo-directory",
] as const;

type Values = Partial<Record<typeof stringOptions[number], string>> & { bypass?: boolean };

/** Splits argv at `--mysqld-args`: the part before is ours, the rest is mariadbd's argv. */
export function splitMysqldArgs(argv: readonly string[]): [string[], string[]] {
  const at = argv.indexOf("--mysqld-args");
  return at < 0 ? [[...argv], []] : [argv.slice(0, at), argv.slice(at + 1)];
}

/** Parses the SST part of argv (everything before `--mysqld-args`). */
function parseOwn(argv: string[]): Values {
  const options = Object.fromEntries(
    stringOptions.map((name) => [name, { type: "string" as const }]),
  );
  const { values } = parseArgs({
    args: argv,
    options: { ...options, bypass: { type: "boolean" } },
    strict: false,
    allowPositionals: true,
  });
  const out: Values = {};
  for (const [k, v] of Object.entries(values)) {
    if (k === "bypass") out.bypass = v === true;
    else if (typeof v === "string") (out as Record<string, string>)[k] = v;
  }
  return out;
}

/** Parses a number that older servers quoted (`'123'`); the shell removed the quotes. */
function integer(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!/^-?\d+$/.test(raw)) {
    throw new ConfigError(`argument --${name} '${raw}' is not a number; mariadbd passes digits`);
  }
  return Number(raw);
}

/** Normalises a server option name: strips `--`, `loose-`, folds `_` to `-`, lower-cases. */
export function normaliseOptionName(raw: string): string {
  return raw.replace(/^--?/, "").replace(/^loose[-_]/i, "").replace(/_/g, "-").toLowerCase();
}

/**
 * Extracts file-location options from mariadbd's own argv (last occurrence wins).
 * A bare `--log-bin` enables binary logging under the default name (empty string here).
 */
export function serverPathsFromMysqldArgs(argv: readonly string[]): ServerPaths & {
  datadir?: string;
} {
  const out: ServerPaths & { datadir?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" && i + 1 < argv.length) {
      out.datadir = argv[++i];
      continue;
    }
    if (arg.startsWith("-h") && !arg.startsWith("--")) {
      out.datadir = arg.slice(2);
      continue;
    }
    if (!arg.startsWith("--")) continue;
    const eq = arg.indexOf("=");
    const name = normaliseOptionName(eq < 0 ? arg : arg.slice(0, eq));
    const value = eq < 0 ? undefined : arg.slice(eq + 1);
    applyServerOption(out, name, value);
  }
  return out;
}

function applyServerOption(
  out: ServerPaths & { datadir?: string },
  name: string,
  value: string | undefined,
): void {
  switch (name) {
    case "datadir":
      if (value !== undefined) out.datadir = value;
      return;
    case "innodb-data-home-dir":
      if (value !== undefined) out.innodbDataHomeDir = value;
      return;
    case "innodb-data-file-path":
      if (value !== undefined) out.innodbDataFilePath = value;
      return;
    case "innodb-flush-log-at-trx-commit":
      if (value !== undefined) out.innodbFlushLogAtTrxCommit = value;
      return;
    case "innodb-log-group-home-dir":
      if (value !== undefined) out.innodbLogGroupHomeDir = value;
      return;
    case "innodb-undo-directory":
      if (value !== undefined) out.innodbUndoDirectory = value;
      return;
    case "aria-log-dir-path":
      if (value !== undefined) out.ariaLogDirPath = value;
      return;
    case "log-bin":
      out.logBin = value ?? "";
      return;
    case "skip-log-bin":
    case "disable-log-bin":
      delete out.logBin;
      return;
    case "log-bin-index":
      if (value !== undefined) out.logBinIndex = value;
      return;
    case "log-basename":
      if (value !== undefined) out.logBasename = value;
      return;
  }
}

function parseRole(raw: string | undefined): Role {
  // The stock common treats a missing --role as donor.
  const role = (raw ?? "donor").toLowerCase();
  if (role === "joiner" || role === "donor") return role;
  throw new ConfigError(`argument --role '${raw}' is neither 'joiner' nor 'donor'`);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" || v === "(null)" ? undefined : v;
}

/** Parses the full argv mariadbd gives us. */
export function parseSstArgs(argv: readonly string[]): SstArgs {
  const [own, mysqld] = splitMysqldArgs(argv);
  const v = parseOwn(own);
  const fromServer = serverPathsFromMysqldArgs(mysqld);
  const datadir = nonEmpty(v.datadir) ?? fromServer.datadir;
  if (!datadir) {
    throw new ConfigError("argument --datadir is missing; mariadbd always passes it");
  }
  const address = nonEmpty(v.address);
  if (!address) throw new ConfigError("argument --address is missing or empty");
  const binlog = nonEmpty(v.binlog) ?? nonEmpty(v["log-bin"]);
  const binlogIndex = nonEmpty(v["binlog-index"]) ?? nonEmpty(v["log-bin-index"]);
  return {
    role: parseRole(v.role),
    address,
    datadir,
    defaultsFile: nonEmpty(v["defaults-file"]),
    defaultsExtraFile: nonEmpty(v["defaults-extra-file"]),
    defaultsGroupSuffix: nonEmpty(v["defaults-group-suffix"]),
    parent: integer("parent", v.parent),
    progress: integer("progress", v.progress) === 1,
    binlog,
    binlogIndex,
    localPort: integer("local-port", v["local-port"]),
    socket: nonEmpty(v.socket),
    gtid: nonEmpty(v.gtid),
    gtidDomainId: nonEmpty(v["gtid-domain-id"]),
    bypass: v.bypass === true,
    server: {
      innodbDataHomeDir: nonEmpty(v["innodb-data-home-dir"]) ?? fromServer.innodbDataHomeDir,
      innodbDataFilePath: fromServer.innodbDataFilePath,
      innodbFlushLogAtTrxCommit: fromServer.innodbFlushLogAtTrxCommit,
      innodbLogGroupHomeDir: nonEmpty(v["innodb-log-group-home-dir"]) ??
        fromServer.innodbLogGroupHomeDir,
      innodbUndoDirectory: nonEmpty(v["innodb-undo-directory"]) ??
        fromServer.innodbUndoDirectory,
      ariaLogDirPath: nonEmpty(v["aria-log-dir-path"]) ?? fromServer.ariaLogDirPath,
      logBin: binlog ?? fromServer.logBin,
      logBinIndex: binlogIndex ?? fromServer.logBinIndex,
      logBasename: nonEmpty(v["log-basename"]) ?? fromServer.logBasename,
    },
  };
}
