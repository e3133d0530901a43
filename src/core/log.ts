/**
 * The server's error log: everything that is not a protocol line goes to stderr as
 * `WSREP_SST: [LEVEL] message (YYYYMMDD HH:MM:SS.mmm)`, one line per event, redacted.
 *
 * @module
 */

/** Severity of a log line. */
export type Level = "INFO" | "WARNING" | "ERROR" | "DEBUG";

const secrets = new Set<string>();

/** Registers a value that must never appear in the log (replaced by `<redacted>`). */
export function addSecret(value: string): void {
  if (value.length >= 4) secrets.add(value);
}

/** Replaces every registered secret in `text`. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("<redacted>");
  return out;
}

function timestamp(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

const encoder = new TextEncoder();
let debugEnabled = false;

/** Turns DEBUG lines on (with `--progress 1`, i.e. `wsrep_debug` set on the server). */
export function setDebug(on: boolean): void {
  debugEnabled = on;
}

/** Formats one log line (no trailing newline); CR/LF in the message are flattened. */
export function formatLine(level: Level, message: string, now?: Date): string {
  const flat = redact(message).replace(/[\r\n]+/g, " ⏎ ").trimEnd();
  return `WSREP_SST: [${level}] ${flat} (${timestamp(now)})`;
}

/** Writes one line to stderr with a single write. */
export function log(level: Level, message: string): void {
  if (level === "DEBUG" && !debugEnabled) return;
  Deno.stderr.writeSync(encoder.encode(formatLine(level, message) + "\n"));
}

/** Shorthands. */
export const info = (m: string): void => log("INFO", m);
/** Shorthand for a WARNING line. */
export const warn = (m: string): void => log("WARNING", m);
/** Shorthand for an ERROR line. */
export const error = (m: string): void => log("ERROR", m);
/** Shorthand for a DEBUG line (only with `--progress 1`). */
export const debug = (m: string): void => log("DEBUG", m);

/** Forwards a line a helper of ours already formatted (redacted again, one write). */
export function passThrough(line: string): void {
  Deno.stderr.writeSync(encoder.encode(redact(line).replace(/[\r\n]+/g, " ") + "\n"));
}
