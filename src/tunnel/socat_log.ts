/**
 * socat's own diagnostics, relayed into the server's error log one line per event. TLS
 * failures are recognised and explained in words an operator can act on.
 *
 * @module
 */
import * as log from "../sst/log.ts";

/** Last TLS problem seen from any socat we relayed, for the final error message. */
let lastProblem: string | null = null;

/** Returns and forgets the last TLS problem seen. */
export function takeLastTlsProblem(): string | null {
  const p = lastProblem;
  lastProblem = null;
  return p;
}

/** Turns one socat stderr line into a log event. */
export function relayLine(line: string, peer: string): void {
  const m = line.match(/ ([EWNIDF]) (.*)$/);
  const level = m?.[1] ?? "E";
  const text = m?.[2] ?? line;
  if (level === "E" || level === "F") {
    const explained = explainTlsError(text, peer);
    if (explained) lastProblem = explained;
    log.warn(`socat: ${text}${explained ? ` — ${explained}` : ""}`);
  } else if (level === "W") {
    log.warn(`socat: ${text}`);
  } else {
    log.debug(`socat: ${text}`);
  }
}

/** Explains common OpenSSL errors seen in socat's messages; null if not recognised. */
export function explainTlsError(text: string, peer: string): string | null {
  const t = text.toLowerCase();
  if (t.includes("certificate verify failed") || t.includes("unknown ca")) {
    return `${peer}: the peer's certificate is not trusted (not issued by a CA in tca/tcapath, ` +
      "expired, or its name does not match)";
  }
  if (
    t.includes("wrong version number") || t.includes("http request") ||
    t.includes("packet length too long")
  ) {
    return `${peer}: the peer does not speak TLS; is it running wsrep_sst_rsync_tunnel?`;
  }
  if (t.includes("peer did not return a certificate") || t.includes("certificate required")) {
    return `${peer}: the peer presented no certificate; set tcert/tkey in [sst] on it`;
  }
  if (t.includes("connection refused")) {
    return `${peer}: nothing listens there (connection refused)`;
  }
  if (t.includes("timed out")) return `${peer}: connection timed out`;
  return null;
}

/** Reads a socat stderr stream to the end, relaying each line. */
export async function relaySocatStderr(
  stream: ReadableStream<Uint8Array>,
  peer: string,
  sink: (line: string) => void = () => {},
): Promise<void> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) {
        relayLine(line, peer);
        sink(line);
      }
    }
  }
  if (buf.trim()) {
    relayLine(buf, peer);
    sink(buf);
  }
}
