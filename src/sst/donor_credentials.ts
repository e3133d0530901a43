/**
 * The joiner's per-SST secret as the donor receives it (docs/sst-protocol.md §1.6, §1.7), from either channel:
 *
 * - MariaDB 10.x: `WSREP_SST_OPT_REMOTE_AUTH` in the environment (the text before the last `@`
 *   of the joiner's `ready` address); stdin is the null device.
 * - MariaDB 11.8: that variable is unset; the donor's **stdin** is a pipe carrying
 *   `sst_user=…`, `sst_password=…` (a temporary SQL account mariadbd made for this SST),
 *   `sst_remote_user=<secret>` and `sst_remote_password=` (empty: our `ready` has no `:`), then
 *   EOF.
 *
 * stdin is read only when it is a pipe, bounded in time ({@link STDIN_WAIT_MS}) and size
 * ({@link STDIN_MAX_BYTES}), and used only when it holds `key=value` lines; a terminal, a file
 * or the null device is never read. Every value read is registered for redaction before
 * anything else happens: none of them may reach the log. When both channels carry a secret,
 * they must agree.
 *
 * @module
 */
import { secretFromRemoteAuth } from "../core/address.ts";
import { ExitCode, SstError } from "../core/errors.ts";
import * as log from "../core/log.ts";
import { Stopwatch, withDeadline } from "../proc/wait.ts";

/** The longest we wait for mariadbd's lines (it writes them before it starts waiting for us). */
export const STDIN_WAIT_MS = 3000;
/** The most we read from stdin (mariadbd writes four short lines). */
export const STDIN_MAX_BYTES = 64 * 1024;

/** What the donor's stdin is connected to. */
export type StdinKind = "pipe" | "terminal" | "other";

/** The donor's stdin, as `runSst`'s dependencies provide it (tests feed their own). */
export interface StdinSource {
  /** What stdin is; only a `pipe` is read. */
  kind(): StdinKind;
  /** Reads into `buf`: bytes read, or null at EOF (like `Deno.Reader.read`). */
  read(buf: Uint8Array): Promise<number | null>;
}

/** The process's real stdin: a pipe is detected through `/proc/self/fd/0`. */
export const denoStdin: StdinSource = {
  kind(): StdinKind {
    if (Deno.stdin.isTerminal()) return "terminal";
    try {
      return Deno.statSync("/proc/self/fd/0").isFifo ? "pipe" : "other";
    } catch {
      return "other";
    }
  },
  read: (buf) => Deno.stdin.read(buf),
};

/** What stdin delivered. */
export type StdinReading =
  | { status: "not-read"; kind: StdinKind }
  | { status: "empty" }
  | { status: "lines"; values: Map<string, string>; complete: boolean }
  | { status: "ignored"; why: string };

/** The keys mariadbd 11.8 writes; reading stops early once all of them arrived. */
const KNOWN_KEYS = ["sst_user", "sst_password", "sst_remote_user", "sst_remote_password"];
/** A key as mariadbd writes them (`sst_user`, …). */
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/**
 * Reads `key=value` lines from a pipe on stdin, until EOF, all known keys, `maxBytes` or
 * `waitMs`. Every value is registered with the log's redaction first. A malformed line or an
 * oversized input makes the whole of stdin ignored (reported without its content).
 */
export async function readStdinCredentials(
  source: StdinSource,
  opts: { waitMs?: number; maxBytes?: number; signal?: AbortSignal } = {},
): Promise<StdinReading> {
  const kind = source.kind();
  if (kind !== "pipe") return { status: "not-read", kind };
  const waitMs = opts.waitMs ?? STDIN_WAIT_MS;
  const maxBytes = opts.maxBytes ?? STDIN_MAX_BYTES;
  const clock = new Stopwatch();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let eof = false;
  let timedOut = false;
  let failure = "";
  const buf = new Uint8Array(8192);
  while (!eof) {
    if (clock.reached(waitMs)) {
      timedOut = true;
      break;
    }
    let n: number | null | "timeout";
    try {
      n = await withDeadline(source.read(buf), {
        ms: clock.left(waitMs),
        signal: opts.signal,
        onTimeout: () => "timeout" as const,
      });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      failure = `reading it failed (${e instanceof Error ? e.name : "error"})`;
      break;
    }
    if (n === "timeout") {
      timedOut = true;
      break;
    }
    if (n === null) {
      eof = true;
      break;
    }
    size += n;
    if (size > maxBytes) {
      return { status: "ignored", why: `it delivered more than ${maxBytes} bytes` };
    }
    chunks.push(buf.slice(0, n));
    if (hasAllKnownKeys(chunks)) break;
  }
  const text = new TextDecoder().decode(concat(chunks));
  // Register every value before any decision, so that no path can log one.
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) log.addSecret(line.slice(eq + 1).replace(/\r$/, ""));
  }
  if (failure) return { status: "ignored", why: failure };
  // A line still being written when the wait ended is not used.
  const complete = eof || text.endsWith("\n");
  const lines = (complete ? text : text.slice(0, text.lastIndexOf("\n") + 1)).split("\n")
    .map((l) => l.replace(/\r$/, "")).filter((l) => l !== "");
  if (lines.length === 0) {
    return timedOut && text !== ""
      ? { status: "ignored", why: `it sent no complete line within ${waitMs} ms` }
      : { status: "empty" };
  }
  const values = new Map<string, string>();
  for (const [i, line] of lines.entries()) {
    const eq = line.indexOf("=");
    const key = eq > 0 ? line.slice(0, eq) : "";
    if (!KEY_RE.test(key)) {
      return { status: "ignored", why: `line ${i + 1} is not a key=value line` };
    }
    if (values.has(key)) return { status: "ignored", why: `key ${key} appears twice` };
    values.set(key, line.slice(eq + 1));
  }
  return { status: "lines", values, complete: eof || !timedOut };
}

function hasAllKnownKeys(chunks: Uint8Array[]): boolean {
  const text = new TextDecoder().decode(concat(chunks));
  const keys = new Set(text.split("\n").slice(0, -1).map((l) => l.slice(0, l.indexOf("="))));
  return KNOWN_KEYS.every((k) => keys.has(k));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The remote auth text mariadbd 11.8 splits into `sst_remote_user`/`sst_remote_password`. */
function remoteAuthOf(values: Map<string, string>): string | undefined {
  const user = values.get("sst_remote_user");
  if (user === undefined || user === "") return undefined;
  const password = values.get("sst_remote_password") ?? "";
  return password === "" ? user : `${user}:${password}`;
}

const ENV = "WSREP_SST_OPT_REMOTE_AUTH";
const STDIN = "sst_remote_user on the donor's stdin";

/**
 * The per-SST secret from `WSREP_SST_OPT_REMOTE_AUTH` (10.x) or the donor's stdin (11.8).
 * Fails with exit 71 when neither carries a valid one, or when both do and they differ.
 */
export async function donorSecret(
  envValue: string | undefined,
  stdin: StdinSource | undefined,
  opts?: { waitMs?: number; maxBytes?: number; signal?: AbortSignal },
): Promise<string> {
  if (envValue) log.addSecret(envValue);
  const reading = stdin
    ? await readStdinCredentials(stdin, opts)
    : { status: "not-read" as const, kind: "other" as const };
  if (reading.status === "ignored") {
    log.warn(`the donor's stdin is a pipe but was ignored: ${reading.why} (content not shown)`);
  }
  const values = reading.status === "lines" ? reading.values : new Map<string, string>();
  if (reading.status === "lines" && !reading.complete) {
    log.warn(
      `the donor's stdin did not close within ${opts?.waitMs ?? STDIN_WAIT_MS} ms; ` +
        "using the lines it sent",
    );
  }
  const fromStdin = remoteAuthOf(values);
  const fromEnv = envValue?.trim() ? envValue : undefined;
  if (fromEnv === undefined && fromStdin === undefined) {
    throw new SstError(
      ExitCode.protocol,
      `the joiner's SST request carried no secret: ${ENV} is unset and the donor's stdin ` +
        `${
          describeReading(reading)
        }; the joiner must run wsrep_sst_rsync_tunnel of the same version`,
    );
  }
  const secret = (value: string, channel: string) => {
    try {
      return secretFromRemoteAuth(value);
    } catch (e) {
      if (!(e instanceof SstError)) throw e;
      throw new SstError(
        ExitCode.protocol,
        `the joiner's SST request carried no valid secret in ${channel}; the joiner must run ` +
          "wsrep_sst_rsync_tunnel of the same version",
      );
    }
  };
  const a = fromEnv !== undefined ? secret(fromEnv, ENV) : undefined;
  const b = fromStdin !== undefined ? secret(fromStdin, STDIN) : undefined;
  if (a !== undefined && b !== undefined && a !== b) {
    throw new SstError(
      ExitCode.protocol,
      `the joiner's secret in ${ENV} differs from ${STDIN}; refusing the SST (both come from ` +
        "mariadbd: check for a wrapper that sets the environment variable)",
    );
  }
  log.info(`joiner's secret taken from ${[a && ENV, b && STDIN].filter(Boolean).join(" and ")}`);
  return (a ?? b)!;
}

function describeReading(r: StdinReading): string {
  switch (r.status) {
    case "not-read":
      return r.kind === "terminal" ? "is a terminal (not read)" : "is not a pipe (not read)";
    case "empty":
      return "was empty";
    case "ignored":
      return `was ignored (${r.why})`;
    case "lines":
      return "has no sst_remote_user line";
  }
}
