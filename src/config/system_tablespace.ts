/**
 * The InnoDB system tablespace as mariadbd finds it: `innodb_data_file_path` parsed with
 * InnoDB's own grammar, each file placed by `innodb_data_home_dir` the way InnoDB joins them.
 *
 * Grammar (one or more `;`-separated entries):
 * `path:size[K|M|G|T][:autoextend[:max:size[K|M|G|T]]]` or `path:size[K|M|G|T][newraw|raw]`.
 * A size without a unit is in bytes; a size under 1 MiB is a syntax error; `:autoextend` ends
 * the value (only the last file extends). A `:` followed by `/`, `\` or `:` belongs to the
 * path. `newraw`/`raw` name a raw partition, which an rsync copy cannot handle: refused.
 *
 * Placement (InnoDB's `fil_make_filepath`): with `innodb_data_home_dir` unset (InnoDB then uses
 * `./`), `.`, `./…` or empty, a name that is absolute or starts with `.` is used as written;
 * with an empty home every name is used as written; otherwise the name is appended to the home
 * (even an absolute one: `/home` + `/abs/f` is `/home//abs/f`). A relative result is relative
 * to the datadir (mariadbd runs there). Default value: `ibdata1:12M:autoextend`.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";

/** mariadbd's default `innodb_data_file_path`. */
export const DEFAULT_DATA_FILE_PATH = "ibdata1:12M:autoextend";

/** One entry of `innodb_data_file_path`. */
export interface DataFileEntry {
  /** The path as written. */
  name: string;
  /** Size in whole MiB (as InnoDB rounds it). */
  sizeMiB: number;
  autoextend: boolean;
}

/** The system tablespace of one server. */
export interface SystemTablespace {
  /** The `innodb_data_file_path` value in force (the default when unset). */
  value: string;
  /** Where it was set, for messages: `[mysqld] innodb_data_file_path` or `default`. */
  setting: string;
  /** Its files, absolute and normalised, in order. */
  files: string[];
}

const KEY = "innodb_data_file_path";

function syntaxError(value: string, why: string): ConfigError {
  return new ConfigError(
    `${KEY}=${value}: ${why}; mariadbd expects path:size[K|M|G][:autoextend[:max:size]] ` +
      "entries separated by ';' (e.g. ibdata1:12M:autoextend)",
  );
}

/** Parses a size at `s[i]`; returns whole MiB and the index after it (InnoDB's parse_units). */
function parseUnits(s: string, i: number): [number, number] {
  const m = /^\d*/.exec(s.slice(i))![0];
  let n = m === "" ? 0 : Number(m);
  let j = i + m.length;
  switch (s[j]) {
    case "T":
    case "t":
      n *= 1024 * 1024;
      j++;
      break;
    case "G":
    case "g":
      n *= 1024;
      j++;
      break;
    case "M":
    case "m":
      j++;
      break;
    case "K":
    case "k":
      n = Math.floor(n / 1024);
      j++;
      break;
    default:
      n = Math.floor(n / (1024 * 1024));
  }
  return [n, j];
}

/** Parses `innodb_data_file_path` as InnoDB does; raw partitions are refused. */
export function parseDataFilePath(value: string): DataFileEntry[] {
  const out: DataFileEntry[] = [];
  let i = 0;
  while (i < value.length) {
    const start = i;
    while (i < value.length && (value[i] !== ":" || "\\/:".includes(value[i + 1] ?? "x"))) i++;
    if (i >= value.length) throw syntaxError(value, `no size after '${value.slice(start)}'`);
    const name = value.slice(start, i);
    let size: number;
    [size, i] = parseUnits(value, i + 1);
    let autoextend = false;
    if (value.startsWith(":autoextend", i)) {
      autoextend = true;
      i += ":autoextend".length;
      if (value.startsWith(":max:", i)) [, i] = parseUnits(value, i + ":max:".length);
      if (i !== value.length) throw syntaxError(value, "only the last file can be autoextend");
    }
    if (/^(new)?raw/.test(value.slice(i))) {
      throw new ConfigError(
        `${KEY}=${value}: '${name}' is a raw partition (newraw/raw), which an rsync SST cannot ` +
          "copy; use wsrep_sst_method=mariabackup for this node, or move the system " +
          "tablespace to files",
      );
    }
    if (size === 0) throw syntaxError(value, `the size of '${name}' is missing or under 1M`);
    if (name === "") throw syntaxError(value, "a file name is empty");
    out.push({ name, sizeMiB: size, autoextend });
    if (value[i] === ";") i++;
    else if (i !== value.length) {
      throw syntaxError(value, `unexpected '${value.slice(i, i + 10)}' after '${name}'`);
    }
  }
  if (out.length === 0) throw syntaxError(value, "no file");
  return out;
}

/** `path` without `.` and `..` components and repeated slashes (absolute in, absolute out). */
export function normalisePath(path: string): string {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return "/" + parts.join("/");
}

/**
 * Where InnoDB opens `name` given `innodb_data_home_dir` = `home` (undefined: unset), with
 * mariadbd running in `datadir` (absolute).
 */
export function dataFileLocation(datadir: string, home: string | undefined, name: string): string {
  const h = home ?? "./";
  const dotHome = h.startsWith(".") && (h.length === 1 || h[1] === "/");
  const asWritten = h === "" || (dotHome && (name.startsWith(".") || name.startsWith("/")));
  const joined = asWritten ? name : `${h}${h.endsWith("/") ? "" : "/"}${name}`;
  return normalisePath(joined.startsWith("/") ? joined : `${datadir}/${joined}`);
}

/** Characters that no system tablespace file name may hold here (rsync patterns, lines). */
const UNSAFE_NAME = /[*?[\]\\\r\n\0]/;

/**
 * The system tablespace of a server running in `datadir` with these settings; `value`
 * undefined means the default. Fails (naming the key) on a syntax error, a raw partition, a
 * name rsync could not select exactly, or two files with the same name in different
 * directories (they travel by name).
 */
export function systemTablespaceFrom(
  datadir: string,
  home: string | undefined,
  value: string | undefined,
  setting: string,
): SystemTablespace {
  const v = value ?? DEFAULT_DATA_FILE_PATH;
  const files = parseDataFilePath(v).map((e) => {
    if (UNSAFE_NAME.test(e.name)) {
      throw new ConfigError(
        `${KEY}=${v}: the file name '${e.name}' holds one of * ? [ ] \\ or a control ` +
          "character, which this SST method cannot select exactly; rename the file",
      );
    }
    return dataFileLocation(datadir, home, e.name);
  });
  const seen = new Map<string, string>();
  for (const f of files) {
    const base = baseName(f);
    const other = seen.get(base);
    if (other !== undefined) {
      throw new ConfigError(
        `${KEY}=${v}: ${other} and ${f} have the same file name; the SST sends system ` +
          "tablespace files by name: give each file its own name",
      );
    }
    seen.set(base, f);
  }
  return { value: v, setting: value === undefined ? "default" : setting, files };
}

/** The last component of an absolute path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The directory of an absolute path. */
export function dirName(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/** How a tablespace reads in messages: `innodb_data_file_path=v ([mysqld] …)`. */
export function describeSystemTablespace(t: SystemTablespace): string {
  return `${KEY}=${t.value} (${t.setting}: ${t.files.join(", ")})`;
}
