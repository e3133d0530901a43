/**
 * The completion record: the last file the donor sends, telling the joiner the state it now
 * holds, proving with the per-SST secret that it comes from the donor that got this SST
 * request, and flagging IST (`bypass`).
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { TransferError } from "../core/errors.ts";

/** File name of the record, on both sides. */
export const COMPLETION_FILE = "sst_complete";

const HEADER = "wsrep_sst_rsync_tunnel completion 1";
const STATE_RE =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}:-?\d{1,19}( \d{1,10})?$/;

/** What the record says. */
export interface CompletionRecord {
  /** `<uuid>:<seqno> <domain>` (domain optional). */
  state: string;
  secret: string;
  bypass: boolean;
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
  return lines.join("\n") + "\n";
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
  for (const line of lines.slice(1)) {
    if (line.startsWith("state ")) state = line.slice(6);
    else if (line.startsWith("secret ")) secret = line.slice(7);
    else if (line === "bypass") bypass = true;
    else throw bad(`unexpected line ${JSON.stringify(line.slice(0, 40))}`);
  }
  if (!state || !isValidState(state)) throw bad("no valid <uuid>:<seqno> state");
  if (!secret) throw bad("no secret");
  return { state, secret, bypass };
}

/** Constant-time comparison of two secrets (their length is no secret). */
export function secretsEqual(a: string, b: string): boolean {
  const [x, y] = [new TextEncoder().encode(a), new TextEncoder().encode(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}
