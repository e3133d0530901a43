/**
 * The joiner's rsync daemon log, read as it grows and turned into typed events per session.
 * Every line carries the PID of the daemon that serves one connection (`[1234] …`); a session
 * is trusted once it proved the per-SST secret (`rsync to <module>/…`). Anyone whose
 * certificate the listener accepts can open a session, so what an unauthenticated session
 * logs (a hang-up during the handshake ends in `rsync error: … (code 12)`) says nothing about
 * the transfer and must never fail it.
 *
 * @module
 */
import { classifyRsyncLine } from "./rsync_failures.ts";

/** One line of the daemon log that matters to the joiner, with the session that logged it. */
export type DaemonEvent =
  | { kind: "connect"; pid: number }
  | { kind: "authenticated"; pid: number; target: string }
  | { kind: "refused"; pid: number; path: string }
  | { kind: "no-space"; pid: number; file: string | null; text: string }
  /** The receiving side could not stat, create, write or delete a file. */
  | { kind: "file-error"; pid: number; text: string }
  | { kind: "error"; pid: number; code: number; text: string };

const LINE_RE = /^\S+ \S+ \[(\d+)\] (.*)$/;

/** The event a daemon log line reports, or null for lines that do not matter. */
export function parseDaemonLine(line: string): DaemonEvent | null {
  const m = LINE_RE.exec(line);
  if (!m) return null;
  const pid = Number(m[1]);
  const text = m[2].trim();
  if (/^connect from /.test(text)) return { kind: "connect", pid };
  const to = /^rsync to (\S+) from /.exec(text);
  if (to) return { kind: "authenticated", pid, target: to[1] };
  const refused = /daemon refused to receive (?:directory|file) "([^"]+)"/.exec(text);
  if (refused) return { kind: "refused", pid, path: refused[1] };
  // What the line says is rsync's own table (rsync_failures.ts), on either side.
  const said = classifyRsyncLine(text).kind;
  if (said === "joiner-no-space") {
    const file = /failed (?:on|to write [^"]*) "([^"]+)"/.exec(text)?.[1] ?? null;
    return { kind: "no-space", pid, file, text };
  }
  const error = /^rsync error: .*\(code (\d+)\)/.exec(text);
  if (error) return { kind: "error", pid, code: Number(error[1]), text };
  // A file of the module the receiving side could not handle; through the tunnel the donor's
  // rsync may exit 0 after such a line, so the joiner decides.
  if (said === "joiner-write") return { kind: "file-error", pid, text };
  return null;
}

/** Follows one daemon log file; see the module documentation. */
export class DaemonLogFollower {
  #offset = 0;
  #partial = "";
  readonly #decoder = new TextDecoder();
  readonly #events: DaemonEvent[] = [];
  readonly #connected = new Set<number>();
  readonly #authenticated = new Set<number>();

  constructor(readonly path: string) {}

  /** The events of the lines appended since the last call (none while the file is missing). */
  async poll(): Promise<DaemonEvent[]> {
    const text = await this.#readNew();
    const lines = (this.#partial + text).split("\n");
    this.#partial = lines.pop() ?? "";
    const events = lines.map(parseDaemonLine).filter((e) => e !== null);
    for (const e of events) {
      if (e.kind === "connect") this.#connected.add(e.pid);
      if (e.kind === "authenticated") this.#authenticated.add(e.pid);
    }
    this.#events.push(...events);
    return events;
  }

  /** Every event read so far (the last lines too, after one more poll). */
  async all(): Promise<readonly DaemonEvent[]> {
    await this.poll();
    return this.#events;
  }

  /**
   * Whether what `pid` logged comes from a session that proved the secret: it logged
   * `rsync to`, or it never logged a connection (a process an authenticated daemon forked).
   */
  trusted(pid: number): boolean {
    return this.#authenticated.has(pid) || !this.#connected.has(pid);
  }

  /** True once a session has proved the secret: the donor's transfer has begun. */
  get transferStarted(): boolean {
    return this.#authenticated.size > 0;
  }

  async #readNew(): Promise<string> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { read: true });
    } catch {
      return "";
    }
    try {
      await file.seek(this.#offset, Deno.SeekMode.Start);
      let text = "";
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await file.read(buf);
        if (n === null || n === 0) break;
        text += this.#decoder.decode(buf.subarray(0, n), { stream: true });
        this.#offset += n;
      }
      return text;
    } finally {
      file.close();
    }
  }
}
