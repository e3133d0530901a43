/**
 * Why a connection to the joiner failed, from what `openssl s_client` (the donor's probe and
 * `check --peer`) or socat (the tunnel connections, `check --peer`) printed: the network
 * (a name that does not resolve, nothing listening, no route) or TLS ({@link TlsFailure}). One
 * classification and one verdict (exit code and message), so that `check --peer` exits exactly
 * as the SST would. The children run with `LC_ALL=C` (process.ts): the wording is OpenSSL's and
 * glibc's English, recorded in test/unit/connection_failures_test.ts.
 *
 * @module
 */
import { ExitCode, SstError } from "../core/errors.ts";
import {
  classifySocatTlsError,
  describeTlsFailure,
  oneLine,
  type TlsFailure,
} from "./tls_failures.ts";

/** The joiner could not be reached at all: no TLS was spoken. */
export interface NetworkFailure {
  kind: "unresolved" | "refused" | "unreachable";
  /** The reason as the tool worded it, one line. */
  detail: string;
}

/** A failed connection, by the layer that failed. */
export type ConnectionFailure =
  | { layer: "network"; failure: NetworkFailure }
  | { layer: "tls"; failure: TlsFailure };

interface NetworkRule {
  re: RegExp;
  kind: NetworkFailure["kind"];
}

/**
 * glibc's getaddrinfo and connect(2) texts, and s_client's `connect:errno=N`. Name resolution
 * first: a name that does not resolve is the cause, whatever follows.
 */
const NETWORK_RULES: NetworkRule[] = [
  {
    re:
      /Name or service not known|Temporary failure in name resolution|No address associated with hostname|Name has no usable address|Name does not resolve|nodename nor servname provided/i,
    kind: "unresolved",
  },
  { re: /Connection refused|connect:errno=111\b/i, kind: "refused" },
  {
    re: /No route to host|Network is unreachable|connect:errno=(113|101)\b/i,
    kind: "unreachable",
  },
];

/**
 * socat 1.7.4 resolves the expected certificate name as IPv6 (`{…,10,0,0}`: AF_INET6) when the
 * peer's certificate has an IPv6 subjectAltName entry; that lookup failing is a name mismatch
 * (tls_failures.ts), not the network.
 */
const SOCAT_IPV6_NAME_CHECK = /getaddrinfo\("[^"]*", "NULL", \{\d+,10,0,0\}/;

/** s_client's text without its line that says nothing about the cause. */
function meaningful(output: string): string {
  return output.split("\n").filter((l) => !/no peer certificate available/i.test(l)).join("\n");
}

/** The reason part of a tool's error line (`…:Name or service not known` → that text). */
function reasonOf(line: string, re: RegExp): string {
  return oneLine(line.match(re)?.[0] ?? line);
}

function networkFailure(output: string): NetworkFailure | null {
  const lines = output.split("\n").filter((l) => !SOCAT_IPV6_NAME_CHECK.test(l));
  for (const rule of NETWORK_RULES) {
    const line = lines.find((l) => rule.re.test(l));
    if (line !== undefined) {
      const detail = reasonOf(line, rule.re).replace(/^connect:errno=111$/, "Connection refused");
      return { kind: rule.kind, detail };
    }
  }
  return null;
}

/**
 * Classifies what s_client or socat printed for a failed connection: the network first (it
 * failed before any TLS), then TLS (s_client's `verify error:num=N:<reason>` preferred over
 * its generic lines). Null if neither is recognised.
 */
export function classifyConnectionFailure(output: string): ConnectionFailure | null {
  const text = meaningful(output);
  const net = networkFailure(text);
  if (net) return { layer: "network", failure: net };
  const verify = text.match(/verify error:num=\d+:([^\n]+)/)?.[1]?.trim();
  const tls = classifySocatTlsError(verify ?? text);
  return tls ? { layer: "tls", failure: tls } : null;
}

/** `host` of `host:port` (brackets of an IPv6 literal removed). */
function hostOf(peer: string): string {
  const host = peer.slice(0, Math.max(0, peer.lastIndexOf(":"))) || peer;
  return host.replace(/^\[(.*)\]$/, "$1");
}

/**
 * s_client verified the joiner's certificate and then the joiner hung up: a joiner whose
 * `[sst] donor-names` does not list us closes the connection without a word.
 */
function closedAfterHandshake(output: string): boolean {
  return /-----BEGIN CERTIFICATE-----/.test(output) && /Verify return code: 0 \(ok\)/.test(output);
}

/** One actionable line for a network failure reaching joiner `peer` (`host:port`). */
export function describeNetworkFailure(f: NetworkFailure, peer: string): string {
  switch (f.kind) {
    case "unresolved":
      return `cannot resolve the joiner's name '${hostOf(peer)}' (${f.detail}); check the ` +
        "joiner's wsrep_sst_receive_address (or wsrep_node_address) and this node's DNS or " +
        "/etc/hosts";
    case "refused":
      return `nothing listens at joiner ${peer} (connection refused); the joiner may have ` +
        "given up already, or the address or port is wrong";
    case "unreachable":
      return `joiner ${peer} is unreachable (${f.detail}); check routing and firewalls ` +
        "between the nodes";
  }
}

/** The exit code of a failure: the errno a DBA's strerror() shows. */
export function exitCodeOf(f: ConnectionFailure) {
  if (f.layer === "network") {
    return f.failure.kind === "refused" ? ExitCode.refused : ExitCode.unreachable;
  }
  return f.failure.kind === "not-tls" ? ExitCode.protocol : ExitCode.peerRejected;
}

/**
 * The verdict on a failed connection to joiner `peer` (`host:port`) from the tool's output:
 * exit code and one line. Unrecognised output is a failed transfer (exit 32) quoting the first
 * error line.
 */
export function connectionError(output: string, peer: string): SstError {
  const f = classifyConnectionFailure(output);
  if (f === null && closedAfterHandshake(output)) {
    return new SstError(
      ExitCode.peerRejected,
      `joiner ${peer} completed the TLS handshake and closed the connection before its rsync ` +
        "daemon answered: it accepts only some donor certificates ([sst] donor-names on the " +
        "joiner; its error log names the certificate names it was shown), or it is not an SST " +
        "joiner",
    );
  }
  if (f === null) {
    const first = output.split("\n").find((l) => /error|errno/i.test(l))?.trim() ?? "no details";
    return new SstError(ExitCode.transfer, `TLS handshake with joiner ${peer} failed: ${first}`);
  }
  const message = f.layer === "network"
    ? describeNetworkFailure(f.failure, peer)
    : describeTlsFailure(f.failure, `joiner ${peer}`);
  return new SstError(exitCodeOf(f), message);
}
