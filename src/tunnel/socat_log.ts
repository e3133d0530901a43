/**
 * socat's own diagnostics, relayed into the server's error log one line per event. TLS
 * failures are recognised and explained in words an operator can act on.
 *
 * @module
 */
import * as log from "../core/log.ts";
import { classifySocatTlsError, describeTlsFailure } from "./tls_failures.ts";

/**
 * socat warnings that say nothing an operator can act on, logged at DEBUG only: socat 1.8 warns
 * on every TLS start that it does not check CRLs (true of every build); socat 1.7.4.1 (Debian
 * 11) probes every accepted socket for VSOCK (`ioctl(…, IOCTL_VM_SOCKETS_GET_LOCAL_CID, …):
 * Inappropriate ioctl for device`); and socat 1.7.4 warns when a SIGCHLD finds no child left
 * to reap (`waitpid(-1, {}, WNOHANG): no child has exited`, once in an SST on 1.7.4.1): its
 * handler reaps every exited child in a loop, so a signal that arrived meanwhile finds the work
 * done. Nothing is lost: every child that exited has been reaped.
 */
const NOT_ACTIONABLE =
  /exiting on signal|does not check CRLs|IOCTL_VM_SOCKETS_GET_LOCAL_CID|waitpid\(-1, \{\}, WNOHANG\): (no child has exited|No child processes)/;

/** Turns one socat stderr line into a log event. */
export function relayLine(line: string, peer: string): void {
  // Our own donor gate (donor_gate.ts) runs under socat and writes formatted lines.
  if (line.startsWith("WSREP_SST: [")) return log.passThrough(line);
  const m = line.match(/ ([EWNID]) (.*)$/);
  const level = m?.[1] ?? "E";
  const text = m?.[2] ?? line;
  // A connection that ended without an rsync session (the donor's certificate probe hangs up
  // after the greeting) ends with an unclean TLS shutdown; the donor reports real failures.
  // (Its rsync's exit is no longer reported above INFO: the listener runs rsync `end-close`.)
  if (/SSL_shutdown\(\) -> -1/.test(text)) {
    log.debug(`socat: ${text}`);
  } else if (level === "E") {
    const failure = classifySocatTlsError(line);
    log.warn(`socat: ${text}${failure ? ` — ${describeTlsFailure(failure, peer)}` : ""}`);
  } else if (level === "W" && !NOT_ACTIONABLE.test(text)) {
    log.warn(`socat: ${text}`);
  } else {
    log.debug(`socat: ${text}`);
  }
}

/**
 * Reads a socat stderr stream to the end, relaying each line and passing it to `sink`; a line
 * `sink` returns true for is its own (a program socat runs reporting to us) and is not relayed.
 */
export async function relaySocatStderr(
  stream: ReadableStream<Uint8Array>,
  peer: string,
  sink: (line: string) => boolean | void = () => {},
): Promise<void> {
  let buf = "";
  const emit = (line: string) => {
    if (!line.trim()) return;
    if (sink(line) !== true) relayLine(line, peer);
  };
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      emit(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
  emit(buf);
}
