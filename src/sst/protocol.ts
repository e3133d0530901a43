/**
 * stdout is mariadbd's protocol channel (docs/sst-protocol.md §2): only protocol lines, each written with a
 * single write, never longer than mariadbd's read buffer, and nothing after the final line.
 *
 * @module
 */
import type { Role } from "../core/args.ts";
import { AbortedError, ExitCode } from "../core/errors.ts";

/** Longest line mariadbd reads in one piece: donor 127, joiner 511 characters. */
export const MAX_LINE: Record<Role, number> = { donor: 127, joiner: 511 };

/** Where protocol lines go; tests supply their own sink. */
export type LineSink = (bytes: Uint8Array) => void;

const stdoutSink: LineSink = (bytes) => {
  let off = 0;
  try {
    while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) {
      throw new AbortedError(
        ExitCode.transfer,
        "mariadbd closed our stdout (it is gone or gave up)",
      );
    }
    throw e;
  }
};

/** Writes the protocol lines of one role. */
export class ProtocolWriter {
  #closed = false;
  readonly lines: string[] = [];
  constructor(readonly role: Role, private readonly sink: LineSink = stdoutSink) {}

  /** Writes one line; throws (a bug) if it is too long, has a newline, or comes too late. */
  write(line: string): void {
    if (this.#closed) throw new Error(`protocol line after the final line: ${line}`);
    const bytes = new TextEncoder().encode(line + "\n");
    if (/[\r\n]/.test(line) || bytes.length - 1 > MAX_LINE[this.role]) {
      throw new Error(`invalid ${this.role} protocol line: ${JSON.stringify(line)}`);
    }
    this.lines.push(line);
    this.sink(bytes);
  }

  /** Writes the last line; nothing may follow. */
  final(line: string): void {
    this.write(line);
    this.#closed = true;
  }

  /** True once the final line has been written. */
  get done(): boolean {
    return this.#closed;
  }
}
