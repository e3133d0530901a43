/**
 * How many bytes the joiner has received in this SST, across all the donor's connections,
 * for its progress and totals lines. Each connection is one rsync daemon (its PID in every
 * line of the daemon log):
 *
 * - a session that ended well logs `sent N bytes  received M bytes  total size T`: M is
 *   exact (the bytes rsync read from the wire);
 * - a session still running counts what its receiver has read so far (`rchar`, sampled by the
 *   listener), but only while whole files arrive: in a delta pass the receiver also reads this
 *   node's files to rebuild them, so its sessions count only when they end;
 * - a session that ended without that line keeps its last sample.
 *
 * The count never goes down.
 *
 * Only counted, never trusted: the data's acceptance is the completion record's.
 *
 * @module
 */

const END_RE = /^\S+ \S+ \[(\d+)\] sent [\d,.']+ bytes\s+received ([\d,.']+) bytes\s+total size/;

/** The cumulative count; see the module documentation. */
export class ReceivedBytes {
  #offset = 0;
  #partial = "";
  readonly #decoder = new TextDecoder();
  readonly #ended = new Map<number, number>();
  readonly #sampled = new Map<number, number>();
  #last = 0;

  /**
   * @param logFile the rsync daemon's log
   * @param live the bytes each running session's receiver has read, by daemon PID
   */
  constructor(
    private readonly logFile: string,
    private readonly live: () => ReadonlyMap<number, number>,
  ) {}

  /**
   * The bytes received so far: reads the log's new lines and, with `sampleLive` (whole files
   * arriving), samples the running sessions.
   */
  async count(sampleLive = true): Promise<number> {
    await this.#readLog();
    for (const [pid, bytes] of sampleLive ? this.live() : []) {
      this.#sampled.set(pid, Math.max(bytes, this.#sampled.get(pid) ?? 0));
    }
    let sum = 0;
    for (const [pid, bytes] of this.#sampled) if (!this.#ended.has(pid)) sum += bytes;
    for (const bytes of this.#ended.values()) sum += bytes;
    this.#last = Math.max(this.#last, sum);
    return this.#last;
  }

  async #readLog(): Promise<void> {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(this.logFile, { read: true });
    } catch {
      return; // not there yet, or gone: the last count stands
    }
    try {
      await f.seek(this.#offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(65536);
      for (;;) {
        const n = await f.read(buf);
        if (n === null || n === 0) break;
        this.#offset += n;
        this.#partial += this.#decoder.decode(buf.subarray(0, n), { stream: true });
      }
    } finally {
      f.close();
    }
    const lines = this.#partial.split("\n");
    this.#partial = lines.pop() ?? "";
    for (const line of lines) {
      const m = END_RE.exec(line);
      if (m) this.#ended.set(Number(m[1]), Number(m[2].replace(/\D/g, "")));
    }
  }
}
