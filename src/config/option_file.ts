/**
 * Our own reader of MariaDB option files (`my.cnf`), behaving like MariaDB 10.11's mysys
 * (`my_default.c`) as observed through `my_print_defaults` 10.11 on Debian. Pure TypeScript
 * plus Deno file APIs: nothing is shelled out.
 *
 * Where the binary differs from the written spec (sst-protocol.md §8.1) the binary wins; the
 * differences are commented where they are implemented. The main ones:
 *
 * - The file is parsed as bytes with latin1 character classes: byte 0xA0 counts as
 *   whitespace, so a UTF-8 value ending in "à" (C3 A0) loses its last byte, exactly as in
 *   MariaDB. Group names compare case-insensitively with latin1 upper-casing.
 * - Lines are read with `fgets` into a 4095-byte buffer: a line longer than 4094 bytes is
 *   split and its tail is parsed as a separate line (line numbers count these pieces).
 * - With `--defaults-file` the `--defaults-extra-file` is **not** read at all (not even
 *   checked for existence).
 * - A missing `!include` file is silently ignored; an error inside an included file (option
 *   before any group, bad header, bad directive) stops reading that file only, and the
 *   including file goes on. Only errors in a top-level file are fatal.
 * - World-writable files are ignored with a warning; paths of 509 bytes or more are ignored
 *   silently (even a `--defaults-file`).
 *
 * @module
 */

import { ConfigError } from "../core/errors.ts";

/** Where to read options from (the `--defaults-*` options mariadbd passed on). */
export interface DefaultsOptions {
  /** `--defaults-file`: read only this file (and what it includes). Missing → error. */
  defaultsFile?: string;
  /** `--defaults-extra-file`: read after the system files, before `~/.my.cnf`. */
  extraFile?: string;
  /** `--defaults-group-suffix`: for every group G also read G + suffix. */
  groupSuffix?: string;
  /** `--no-defaults`: read nothing. */
  noDefaults?: boolean;
  /**
   * Environment used for MARIADB_HOME, MYSQL_HOME, HOME and MYSQL_GROUP_SUFFIX (the
   * suffix used when `groupSuffix` is undefined). Defaults to the process environment.
   */
  env?: Record<string, string | undefined>;
  /** Receives non-fatal problems MariaDB ignores (missing include, world-writable file…). */
  onWarning?: (message: string) => void;
}

/** One option line, as read from an option file. */
export interface OptionEntry {
  /** The group it belongs to, as written in the header (case preserved). */
  group: string;
  /** The name as written (`log_bin`, `loose-foo` are kept as they are). */
  name: string;
  /** The value after unquoting and unescaping; null for a bare key. */
  value: string | null;
  /** The file it came from. */
  file: string;
  /** 1-based line number (counted like MariaDB: pieces of over-long lines count). */
  line: number;
}

/** The groups `--mysqld` / `--mariadbd` stand for in MariaDB 10.11 (checked with decoys). */
export const SERVER_GROUPS: readonly string[] = [
  "mysqld",
  "server",
  "mysqld-10.11",
  "mariadb",
  "mariadb-10.11",
  "mariadbd",
  "mariadbd-10.11",
  "client-server",
  "galera",
];

/**
 * Reads the option files MariaDB would read and returns the entries of the requested groups
 * (a group may be "--mysqld"), in file order.
 */
export async function readOptions(
  opts: DefaultsOptions,
  groups: readonly string[],
): Promise<OptionEntry[]> {
  const wanted = new Set(requestedGroups(opts, groups).map(groupKey));
  const all = await readAllOptions(opts);
  return all.filter((e) => wanted.has(groupKey(e.group)));
}

/** Formats entries exactly like my_print_defaults' output lines (`--name=value` / `--name`). */
export function formatLikeMyPrintDefaults(entries: readonly OptionEntry[]): string[] {
  return entries.map((e) => e.value === null ? `--${e.name}` : `--${e.name}=${e.value}`);
}

/**
 * The group names my_print_defaults reads for `groups`: "--mysqld"/"--mariadbd" expanded to
 * {@link SERVER_GROUPS}, then, with a suffix (option, else env MYSQL_GROUP_SUFFIX), every name
 * again with the suffix appended.
 */
export function requestedGroups(opts: DefaultsOptions, groups: readonly string[]): string[] {
  const base = groups.flatMap((g) => g === "--mysqld" || g === "--mariadbd" ? SERVER_GROUPS : [g]);
  const suffix = opts.groupSuffix ?? envOf(opts).MYSQL_GROUP_SUFFIX;
  return suffix === undefined ? base : [...base, ...base.map((g) => g + suffix)];
}

/** Group-name equality as in MariaDB: byte-wise, case-insensitive with latin1 upper-casing. */
export function groupNameEquals(a: string, b: string): boolean {
  return groupKey(a) === groupKey(b);
}

/** What MariaDB compares group names on (find_type with latin1 my_toupper). */
function groupKey(name: string): string {
  return latin1Upper(textToBinary(name));
}

/** Reads every option of every group, in file order (see {@link readOptions}). */
export async function readAllOptions(opts: DefaultsOptions): Promise<OptionEntry[]> {
  if (opts.noDefaults) return [];
  const ctx: ReadContext = { env: envOf(opts), warn: opts.onWarning ?? (() => {}), out: [] };
  for (const source of await optionSources(opts)) {
    const result = await readOptionFile(ctx, source.path, 0, source.lengthChecked);
    if (result.kind === "failed") throw result.error;
    if (result.kind === "missing" && source.required) {
      throw new ConfigError(
        `option file ${source.path} (${source.required}) cannot be opened: ${result.reason}; ` +
          `fix the path passed to mariadbd or create the file`,
      );
    }
  }
  return ctx.out;
}

/**
 * The option files read, in order, named like `my_print_defaults --help` prints them
 * ("~/.my.cnf" unexpanded). Without a defaults file: /etc/my.cnf, /etc/mysql/my.cnf,
 * $MARIADB_HOME/my.cnf (else $MYSQL_HOME/my.cnf), the extra file, ~/.my.cnf; a directory
 * already listed moves to the end (so MYSQL_HOME=/etc reads /etc/my.cnf second).
 */
export async function optionFileSearchList(opts: DefaultsOptions): Promise<string[]> {
  return (await optionSources(opts)).map((s) => s.path);
}

// ---------------------------------------------------------------------------------------------
// File search

/** A file to read; `required` names the option that made it required. */
interface Source {
  path: string;
  required?: "--defaults-file" | "--defaults-extra-file";
  /** The directory + "my" length was checked already (default search). */
  lengthChecked?: boolean;
}

/** mysys: FN_REFLEN - 3; longer paths are ignored without a word. */
const MAX_PATH_BYTES = 509;

async function optionSources(opts: DefaultsOptions): Promise<Source[]> {
  const env = envOf(opts);
  if (opts.noDefaults) return [];
  // Reality (10.11): with --defaults-file the extra file is ignored entirely.
  if (opts.defaultsFile !== undefined) {
    return [{ path: await expandRequired(opts.defaultsFile, env), required: "--defaults-file" }];
  }
  const sources: Source[] = [];
  for (const dir of defaultDirectories(env)) {
    if (dir !== "") {
      if (byteLength(dir) + 2 >= MAX_PATH_BYTES) continue;
      sources.push({ path: `${dir}${dir.startsWith("~") ? "." : ""}my.cnf`, lengthChecked: true });
    } else if (opts.extraFile !== undefined) {
      const path = await expandRequired(opts.extraFile, env);
      sources.push({ path, required: "--defaults-extra-file" });
    }
  }
  return sources;
}

/** init_default_directories(): "" is the placeholder for the extra file. */
function defaultDirectories(env: Record<string, string | undefined>): string[] {
  const dirs: string[] = [];
  const add = (dir: string) => {
    const d = normalizeDirname(dir);
    const at = dirs.indexOf(d);
    if (at >= 0) dirs.splice(at, 1); // a repeated directory moves to the end
    dirs.push(d);
  };
  add("/etc/");
  add("/etc/mysql/");
  // MARIADB_HOME wins when set, even when set to "" (then no home directory is read).
  const home = env.MARIADB_HOME ?? env.MYSQL_HOME;
  if (home !== undefined) add(home);
  add("");
  add("~/");
  return dirs;
}

/** fn_expand(): ~ expanded, made absolute against the cwd, symlinks resolved if possible. */
async function expandRequired(p: string, env: Record<string, string | undefined>) {
  const unpacked = expandTilde(p, env);
  const abs = cleanupPath(unpacked.startsWith("/") ? unpacked : `${Deno.cwd()}/${unpacked}`);
  try {
    return await Deno.realPath(abs);
  } catch {
    return abs;
  }
}

/** normalize_dirname(): cleaned up, with a trailing "/" ("" stays ""). */
function normalizeDirname(dir: string): string {
  if (dir === "") return "";
  const clean = cleanupPath(dir);
  return clean.endsWith("/") ? clean : `${clean}/`;
}

/**
 * A subset of mysys cleanup_dirname(): "//" and "/./" collapse, "x/.." drops x, a leading
 * "./" or "../" is kept. (MariaDB also expands "~/.." and "./.." there; we do not.)
 */
function cleanupPath(p: string): string {
  const absolute = p.startsWith("/");
  const out: string[] = [];
  p.split("/").forEach((part, i) => {
    if (part === "" || (part === "." && i > 0)) return;
    const prev = out.at(-1);
    if (part === ".." && prev !== undefined && prev !== ".." && prev !== "." && prev[0] !== "~") {
      out.pop();
    } else if (!(part === ".." && absolute && out.length === 0)) {
      out.push(part);
    }
  });
  const joined = (absolute ? "/" : "") + out.join("/");
  return joined === "" ? "." : joined;
}

/** unpack_filename(): "~/x" → $HOME/x; no HOME → unchanged; "~user" is not supported. */
function expandTilde(p: string, env: Record<string, string | undefined>): string {
  const home = env.HOME;
  if (home === undefined || !(p === "~" || p.startsWith("~/"))) return p;
  return (home.endsWith("/") ? home.slice(0, -1) : home) + p.slice(1);
}

function envOf(opts: DefaultsOptions): Record<string, string | undefined> {
  return opts.env ?? Deno.env.toObject();
}

// ---------------------------------------------------------------------------------------------
// Reading one file

interface ReadContext {
  env: Record<string, string | undefined>;
  warn: (message: string) => void;
  out: OptionEntry[];
}

/** search_default_file_with_ext()'s three outcomes. */
type FileResult =
  | { kind: "read" }
  | { kind: "missing"; reason: string }
  | { kind: "failed"; error: ConfigError };

/** Per-file parser state. */
interface FileState {
  ctx: ReadContext;
  file: string;
  level: number;
  line: number;
  group: string | null;
}

/** MariaDB's max_recursion_level: files at this depth may not include further. */
const MAX_INCLUDE_DEPTH = 10;

async function readOptionFile(
  ctx: ReadContext,
  name: string,
  level: number,
  lengthChecked = false,
): Promise<FileResult> {
  if (!lengthChecked && byteLength(name) >= MAX_PATH_BYTES) return { kind: "read" };
  const path = expandTilde(name, ctx.env);
  const bytes = await loadFile(ctx, path);
  if (bytes.kind !== "bytes") return bytes;
  const st: FileState = { ctx, file: path, level, line: 0, group: null };
  for (const line of fgetsLines(bytesToBinary(bytes.data))) {
    st.line++;
    const error = await handleLine(st, line);
    if (error) return { kind: "failed", error };
  }
  return { kind: "read" };
}

type Loaded = { kind: "bytes"; data: Uint8Array } | { kind: "read" } | {
  kind: "missing";
  reason: string;
};

async function loadFile(ctx: ReadContext, path: string): Promise<Loaded> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    return { kind: "missing", reason: errorText(e) };
  }
  if (info.isFile && ((info.mode ?? 0) & 0o002) !== 0) {
    ctx.warn(
      `option file ${path} is world-writable and is ignored (as MariaDB does); chmod o-w it`,
    );
    return { kind: "read" };
  }
  if (info.isDirectory) return { kind: "read" }; // fopen() works, fgets() reads nothing
  try {
    return { kind: "bytes", data: await Deno.readFile(path) };
  } catch (e) {
    return { kind: "missing", reason: errorText(e) };
  }
}

/** fgets(buff, 4095): pieces end after "\n" or at 4094 bytes; a NUL ends the C string. */
function* fgetsLines(text: string): Generator<string> {
  const FGETS_MAX = 4094;
  for (let i = 0; i < text.length;) {
    const nl = text.indexOf("\n", i);
    const stop = Math.min(nl < 0 ? text.length : nl + 1, i + FGETS_MAX);
    const piece = text.slice(i, stop);
    const nul = piece.indexOf("\0");
    yield nul < 0 ? piece : piece.slice(0, nul);
    i = stop;
  }
}

/** Handles one line; returns the error that ends this file, if any. */
async function handleLine(st: FileState, raw: string): Promise<ConfigError | undefined> {
  const line = parseLine(raw);
  switch (line.kind) {
    case "blank":
      return undefined;
    case "directive":
      return await handleDirective(st, line.text);
    case "badGroup":
      return fileError(st, `group header has no closing "]"; fix the header`);
    case "group":
      st.group = binaryToText(line.name);
      return undefined;
    case "option":
      return addOption(st, line);
  }
}

function addOption(st: FileState, opt: OptionLine): ConfigError | undefined {
  const name = binaryToText(opt.name);
  if (st.group === null) {
    return fileError(
      st,
      `option "${name}" comes before any [group] header; put it under a group or remove it`,
    );
  }
  const value = opt.value === null ? null : binaryToText(opt.value);
  st.ctx.out.push({ group: st.group, name, value, file: st.file, line: st.line });
  return undefined;
}

async function handleDirective(st: FileState, text: string): Promise<ConfigError | undefined> {
  if (st.level >= MAX_INCLUDE_DEPTH) {
    st.ctx.warn(where(st, `"${binaryToText(text.trimEnd())}" skipped: includes nest too deep`));
    return undefined;
  }
  const d = parseDirective(text);
  if (d.kind === "ignored") return undefined;
  if (d.kind === "bad") {
    return fileError(st, `"!${d.keyword}" has no argument; add it or remove the line`);
  }
  const arg = binaryToText(d.arg);
  return d.kind === "include" ? await include(st, arg) : await includeDir(st, arg);
}

async function include(st: FileState, file: string): Promise<undefined> {
  const result = await readOptionFile(st.ctx, file, st.level + 1);
  if (result.kind === "missing") {
    // MariaDB ignores this silently; we only warn.
    st.ctx.warn(
      where(st, `"!include" names a missing file ${file}; fix the path or remove the line`),
    );
  } else if (result.kind === "failed") {
    st.ctx.warn(`${result.error.message} (the rest of that file is ignored, as MariaDB does)`);
  }
  return undefined;
}

async function includeDir(st: FileState, dir: string): Promise<ConfigError | undefined> {
  let names: string[];
  try {
    names = await listCnfFiles(dir); // no "~" expansion here, as in MariaDB (my_dir)
  } catch (e) {
    return fileError(
      st,
      `"!includedir" names a directory that cannot be read: ${dir} (${errorText(e)}); ` +
        `fix the path or remove the line`,
    );
  }
  const base = dir.endsWith("/") ? dir.replace(/\/+$/, "") || "/" : dir;
  for (const name of names) {
    const result = await readOptionFile(
      st.ctx,
      base === "/" ? `/${name}` : `${base}/${name}`,
      st.level + 1,
    );
    if (result.kind === "failed") {
      st.ctx.warn(`${result.error.message} (the rest of that file is ignored, as MariaDB does)`);
    }
  }
  return undefined;
}

/**
 * Entries of `dir` whose extension (after the last ".") is exactly ".cnf" (case-sensitive;
 * ".cnf" itself counts; ".ini" does not on Unix), sorted by bytes like strcmp.
 */
async function listCnfFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const dot = entry.name.lastIndexOf(".");
    if (dot >= 0 && entry.name.slice(dot) === ".cnf") names.push(entry.name);
  }
  return names.sort((a, b) => compareBytes(textToBinary(a), textToBinary(b)));
}

function fileError(st: FileState, what: string): ConfigError {
  return new ConfigError(where(st, what));
}

function where(st: FileState, what: string): string {
  return `option file ${st.file} line ${st.line}: ${what}`;
}

// ---------------------------------------------------------------------------------------------
// Parsing one line (all strings here are "binary": one char per byte, latin1 classes)

/** An option line; `value` null for a bare key. Binary strings. */
interface OptionLine {
  kind: "option";
  name: string;
  value: string | null;
}

type Line =
  | { kind: "blank" }
  | { kind: "directive"; text: string }
  | { kind: "group"; name: string }
  | { kind: "badGroup" }
  | OptionLine;

type Directive =
  | { kind: "include" | "includedir"; arg: string }
  | { kind: "bad"; keyword: string }
  | { kind: "ignored" };

/** my_isspace(&my_charset_latin1): includes 0xA0 (NBSP). */
function isSpace(c: string | undefined): boolean {
  return c !== undefined && c.length === 1 && " \t\n\v\f\r\xa0".includes(c);
}

function parseLine(raw: string): Line {
  let lead = 0;
  while (isSpace(raw[lead])) lead++;
  const s = raw.slice(lead);
  if (s === "" || s[0] === "#" || s[0] === ";") return { kind: "blank" };
  if (s[0] === "!") return { kind: "directive", text: s };
  if (s[0] === "[") return parseGroup(s);
  return parseOption(s, lead > 0);
}

/** Text after the first "]" is ignored; trailing (not leading) spaces are trimmed. */
function parseGroup(s: string): Line {
  const close = s.indexOf("]", 1);
  if (close < 0) return { kind: "badGroup" };
  let end = close;
  while (isSpace(s[end - 1])) end--;
  return { kind: "group", name: s.slice(1, end) };
}

function parseOption(s: string, indented: boolean): OptionLine {
  const cut = removeEndComment(s);
  const eq = cut.indexOf("=");
  if (eq < 0) return { kind: "option", name: trimEnd(cut), value: null };
  // MariaDB walks back from "=" over blanks without a bound: with an empty name on an
  // indented line it runs into the line's leading blanks and copies the whole rest of the
  // line as the name (undefined behaviour in C; this is what the 10.11 binary prints).
  const name = eq === 0 && indented ? cut : trimEnd(cut.slice(0, eq));
  return { kind: "option", name, value: unescape(unquote(trim(cut.slice(eq + 1)))) };
}

/**
 * remove_end_comment(): cuts at the first "#" outside quotes. Quotes are tracked from the
 * start of the line (name included); a backslash escapes a quote only inside quotes.
 */
function removeEndComment(s: string): string {
  let quote = "";
  let escape = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if ((c === "'" || c === '"') && !escape) {
      if (!quote) quote = c;
      else if (quote === c) quote = "";
    }
    if (!quote && c === "#") return s.slice(0, i);
    escape = quote !== "" && c === "\\" && !escape;
  }
  return s;
}

/** Surrounding quotes go only when first and last char are the same quote (length ≥ 2). */
function unquote(v: string): string {
  const q = v[0];
  return v.length >= 2 && (q === '"' || q === "'") && v.at(-1) === q ? v.slice(1, -1) : v;
}

const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  b: "\b",
  s: " ",
  '"': '"',
  "'": "'",
  "\\": "\\",
};

/** Escapes apply inside and outside quotes; unknown ones and a final "\" stay as written. */
function unescape(v: string): string {
  let out = "";
  for (let i = 0; i < v.length; i++) {
    if (v[i] === "\\" && i !== v.length - 1) {
      const c = v[++i];
      out += ESCAPES[c] ?? `\\${c}`;
    } else {
      out += v[i];
    }
  }
  return out;
}

/**
 * "!include x" / "!includedir x": "!" may be followed by blanks, keywords are case-sensitive
 * and need a blank after them. get_argument() assumes the line ends with "\n" and drops the
 * last character, so on a last line without newline "!include a.cnf" reads "a.cn".
 */
function parseDirective(text: string): Directive {
  let p = 1;
  while (isSpace(text[p])) p++;
  const rest = text.slice(p);
  for (const keyword of ["includedir", "include"] as const) {
    if (rest.startsWith(keyword) && isSpace(rest[keyword.length])) {
      let start = keyword.length;
      while (isSpace(rest[start])) start++;
      let end = rest.length - 1;
      while (isSpace(rest[end - 1])) end--;
      return end <= start
        ? { kind: "bad", keyword }
        : { kind: keyword, arg: rest.slice(start, end) };
    }
  }
  return { kind: "ignored" };
}

function trim(s: string): string {
  let start = 0;
  while (isSpace(s[start])) start++;
  return trimEnd(s.slice(start));
}

function trimEnd(s: string): string {
  let end = s.length;
  while (isSpace(s[end - 1])) end--;
  return s.slice(0, end);
}

// ---------------------------------------------------------------------------------------------
// Bytes

const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });
const ENCODER = new TextEncoder();

function bytesToBinary(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/** Binary string → text; invalid UTF-8 becomes U+FFFD. */
function binaryToText(s: string): string {
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return UTF8.decode(bytes);
}

function textToBinary(t: string): string {
  return bytesToBinary(ENCODER.encode(t));
}

function byteLength(t: string): number {
  return ENCODER.encode(t).length;
}

/** my_toupper(latin1): a-z, à-ö, ø-þ. */
function latin1Upper(s: string): string {
  return s.replace(/[a-z\xe0-\xf6\xf8-\xfe]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x20));
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0; // binary strings: code unit order = byte order
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
