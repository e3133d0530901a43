/**
 * The joiner's end of the tunnel: one socat `OPENSSL-LISTEN` process (its own process group)
 * that verifies each donor connection's certificate and runs an rsync daemon over it. No
 * plaintext socket exists at any time.
 *
 * @module
 */
import { BusyError, ExitCode } from "../core/errors.ts";
import * as log from "../core/log.ts";
import type { Child, ProcessAdapter } from "../proc/process.ts";
import { waitFor } from "../proc/wait.ts";
import { childrenOf, commandName } from "../proc/liveness.ts";
import { describePortHolder, pidListensOn } from "./listen_check.ts";
import { relaySocatStderr } from "./socat_log.ts";

/** A running listener. */
export interface TunnelListener {
  child: Child;
  /** Settles when socat's stderr ended (every line relayed). */
  stderrDone: Promise<void>;
  /** Number of donor connections being served right now. */
  openConnections(): number;
  /**
   * Bytes the rsync receivers have read from donors so far (changes = data arriving). Only
   * receivers count: the generator's keep-alives towards a stalled donor are not activity.
   */
  bytesReceived(): number;
  /** What {@link bytesReceived} sums: each running receiver's bytes, by its daemon's PID. */
  receiverBytesBySession(): Map<number, number>;
}

/** What to start. */
export interface ListenerOptions {
  socat: string;
  /** socat arguments (global options, listen address, exec address). */
  args: string[];
  port: number;
  /** Where the joiner listens, for messages. */
  where: string;
  /** Bound on the wait for the socket to appear. */
  readyTimeoutMs?: number;
  /** Variables for socat and the program it runs per connection (e.g. the donor gate's). */
  env?: Record<string, string>;
  /** Ends the wait for the socket at once (rejecting with its reason) when it aborts. */
  signal?: AbortSignal;
  /**
   * Also receives each line socat writes to stderr; a line it returns true for is its own (a
   * report of the program socat runs) and is not relayed to the log.
   */
  onSocatLine?: (line: string) => boolean | void;
}

/** Starts socat and resolves once it listens; fails with exit 16 when the port is taken. */
export async function startListener(
  adapter: ProcessAdapter,
  opts: ListenerOptions,
): Promise<TunnelListener> {
  log.info(`starting TLS listener: ${[opts.socat, ...opts.args].join(" ")}`);
  const child = adapter.spawn({
    cmd: opts.socat,
    args: opts.args,
    env: opts.env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    group: true,
    dieWithParent: true,
  });
  const stderrDone = relaySocatStderr(
    child.stderr!,
    `donor connection to ${opts.where}`,
    opts.onSocatLine,
  );
  const listening = await waitFor(
    () => pidListensOn(child.pid, opts.port) || (child.exited ? "exited" : undefined),
    {
      every: 50,
      limit: opts.readyTimeoutMs ?? 10_000,
      signal: opts.signal,
      onTimeout: () => false,
    },
  );
  if (listening !== true) {
    await stderrDone.catch(() => {});
    throw portBusy(opts, child.exited);
  }
  return {
    child,
    stderrDone,
    openConnections: () => childrenOf(child.pid).length,
    bytesReceived: () => {
      let sum = 0;
      for (const b of receiverBytes(child.pid).values()) sum += b;
      return sum;
    },
    receiverBytesBySession: () => receiverBytes(child.pid),
  };
}

/**
 * `rchar` (procfs io) of the rsync receivers below `pid`, by their parent's PID (the daemon
 * of the session: an rsync daemon forks its receiver, so a receiver is an rsync whose parent
 * is an rsync).
 */
function receiverBytes(
  pid: number,
  parentIsRsync = false,
  into = new Map<number, number>(),
): Map<number, number> {
  for (const c of childrenOf(pid)) {
    const isRsync = commandName(c) === "rsync";
    if (isRsync && parentIsRsync) {
      try {
        const io = Deno.readTextFileSync(`/proc/${c}/io`);
        into.set(pid, (into.get(pid) ?? 0) + Number(io.match(/^rchar: (\d+)/m)?.[1] ?? 0));
      } catch { /* gone */ }
    }
    receiverBytes(c, isRsync, into);
  }
  return into;
}

function portBusy(opts: ListenerOptions, exited: boolean): BusyError {
  const holder = describePortHolder(opts.port);
  const why = holder
    ? `port ${opts.port} is taken by ${holder}`
    : exited
    ? "socat exited before listening (see its error above)"
    : "socat did not start listening within 10 s";
  return new BusyError(
    `cannot listen for the SST on ${opts.where}: ${why}; stop that process or set another ` +
      "port in wsrep_sst_receive_address",
    ExitCode.busy,
  );
}
