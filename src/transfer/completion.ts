/**
 * The completion record: the last file the donor sends, telling the joiner the state it now
 * holds, proving with the per-SST secret that it comes from the donor that got this SST
 * request, and flagging IST (`bypass`). To a joiner that told its server version, it also
 * carries the donor's (`server`).
 *
 * The refusal record takes its place when the donor refuses the SST before copying anything
 * (the servers' versions cannot work together): the same file name and module, the secret, the
 * donor's version and its one-line reason, so that the joiner's log says why too.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { ExitCode, TransferError } from "../core/errors.ts";

/** File name of the record, on both sides. */
export const COMPLETION_FILE = "sst_complete";

const HEADER = "wsrep_sst_rsync_tunnel completion 1";
const REFUSAL_HEADER = "wsrep_sst_rsync_tunnel refusal 1";
/** Longest reason a refusal record carries. */
const MAX_REASON = 1000;
const STATE_RE =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}:-?\d{1,19}( \d{1,10})?$/;

/** What the record says. */
export interface CompletionRecord {
  /** `<uuid>:<seqno> <domain>` (domain optional). */
  state: string;
  secret: string;
  bypass: boolean;
  /** The donor's server version (`10.11.19` or `unknown`); only to joiners that told theirs. */
  server?: string;
}

/** A donor's refusal, sent instead of any data. */
export interface RefusalRecord {
  secret: string;
  /** The donor's server version (`10.5.23` or `unknown`). */
  server: string;
  /** One line: why, naming both versions and the fix. */
  reason: string;
  /**
   * The exit code both sides fail with, when not 95 (the versions): 28 when the joiner cannot
   * hold the copy. Only to joiners that read it (those that serve their free space).
   */
  code?: RefusalCode;
}

/** The exit codes a refusal record may carry. */
export const REFUSAL_CODES = [ExitCode.noSpace, ExitCode.unsupportedPair] as const;
/** One of {@link REFUSAL_CODES}. */
export type RefusalCode = typeof REFUSAL_CODES[number];

/** What the donor's last file says: the transfer is complete, or it was refused. */
export type DonorRecord =
  | { kind: "complete"; record: CompletionRecord }
  | { kind: "refused"; refusal: RefusalRecord };

const SERVER_RE = /^(?:\d{1,4}\.\d{1,4}\.\d{1,4}|unknown)$/;

/** The reason as one printable line of bounded length. */
function oneLine(reason: string): string {
  // deno-lint-ignore no-control-regex -- flattening control characters is the point
  return reason.replace(/[\x00-\x1f\x7f]+/g, " ").trim().slice(0, MAX_REASON);
}

/** True if `s` is a state mariadbd accepts as the joiner's final line. */
export function isValidState(s: string): boolean {
  return STATE_RE.test(s);
}

/** Renders a record. */
export function renderCompletion(r: CompletionRecord): string {
  if (!isValidState(r.state)) throw new Error(`invalid state ${JSON.stringify(r.state)}`);
  const lines = [HEADER, `state ${r.state}`, `secret ${r.secret}`];
  if (r.bypass) lines.push("bypass");
  if (r.server !== undefined) {
    if (!SERVER_RE.test(r.server)) throw new Error(`invalid server ${JSON.stringify(r.server)}`);
    lines.push(`server ${r.server}`);
  }
  return lines.join("\n") + "\n";
}

/** Renders a refusal record. */
export function renderRefusal(r: RefusalRecord): string {
  if (!SERVER_RE.test(r.server)) throw new Error(`invalid server ${JSON.stringify(r.server)}`);
  const code = r.code === undefined ? [] : [`code ${r.code}`];
  return [
    REFUSAL_HEADER,
    `secret ${r.secret}`,
    `server ${r.server}`,
    ...code,
    `reason ${oneLine(r.reason)}`,
  ].join("\n") + "\n";
}

/** Parses the donor's last file: a completion or a refusal record. */
export function parseDonorRecord(text: string, source: string): DonorRecord {
  if (text.split("\n", 1)[0] !== REFUSAL_HEADER) {
    return { kind: "complete", record: parseCompletion(text, source) };
  }
  const bad = (why: string) =>
    new TransferError(`refusal record ${source} is invalid: ${why}; the SST is not trusted`);
  let secret: string | undefined;
  let server: string | undefined;
  let reason: string | undefined;
  let code: RefusalCode | undefined;
  for (const line of text.split("\n").slice(1).filter((l) => l !== "")) {
    if (line.startsWith("code ")) {
      code = REFUSAL_CODES.find((c) => `code ${c}` === line);
      if (code === undefined) throw bad(`unknown ${JSON.stringify(line.slice(0, 20))}`);
    } else if (line.startsWith("secret ")) secret = line.slice(7);
    else if (line.startsWith("server ")) server = line.slice(7);
    else if (line.startsWith("reason ")) reason = oneLine(line.slice(7));
    else throw bad(`unexpected line ${JSON.stringify(line.slice(0, 40))}`);
  }
  if (!secret) throw bad("no secret");
  if (!server || !SERVER_RE.test(server)) throw bad("no valid server version");
  if (!reason) throw bad("no reason");
  const refusal = { secret, server, reason };
  return { kind: "refused", refusal: code === undefined ? refusal : { ...refusal, code } };
}

/** Parses a received record; throws a {@link TransferError} naming what is wrong. */
export function parseCompletion(text: string, source: string): CompletionRecord {
  const lines = text.split("\n").filter((l) => l !== "");
  const bad = (why: string) =>
    new TransferError(`completion record ${source} is invalid: ${why}; the SST is not trusted`);
  if (lines[0] !== HEADER) throw bad("unknown format (donor runs another version?)");
  let state: string | undefined;
  let secret: string | undefined;
  let bypass = false;
  let server: string | undefined;
  for (const line of lines.slice(1)) {
    if (line.startsWith("state ")) state = line.slice(6);
    else if (line.startsWith("secret ")) secret = line.slice(7);
    else if (line === "bypass") bypass = true;
    else if (line.startsWith("server ")) server = line.slice(7);
    else throw bad(`unexpected line ${JSON.stringify(line.slice(0, 40))}`);
  }
  if (!state || !isValidState(state)) throw bad("no valid <uuid>:<seqno> state");
  if (!secret) throw bad("no secret");
  if (server !== undefined && !SERVER_RE.test(server)) throw bad("invalid server version");
  return server === undefined ? { state, secret, bypass } : { state, secret, bypass, server };
}

/** Constant-time comparison of two secrets (their length is no secret). */
export function secretsEqual(a: string, b: string): boolean {
  const [x, y] = [new TextEncoder().encode(a), new TextEncoder().encode(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}
