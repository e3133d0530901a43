/**
 * The donor's look at the joiner before any data moves: one mutually authenticated TLS
 * handshake (`openssl s_client`, chain verified against our CA) that fetches the joiner's
 * certificate, so that we can pick the name socat must enforce on every connection — the
 * IP itself or the resolver's name for it (when it resolves back), whichever the certificate carries —
 * and explain a mismatch in one line before anything is copied.
 *
 * @module
 */
import { isIpv4, parseIpBytes, sameIpBytes } from "../core/ip.ts";
import * as log from "../core/log.ts";
import { X509Certificate } from "node:crypto";
import { type ProcessAdapter, stop } from "../proc/process.ts";
import { withDeadline } from "../proc/wait.ts";
import { ExitCode, SstError, TimeoutError } from "../core/errors.ts";
import { type CertificateInfo, describeCertificate } from "./certificate_info.ts";
import { certificateMatchesHost } from "./host_names.ts";
import { connectionError } from "./connection_failures.ts";
import type { TlsOptions } from "./socat_address.ts";
import type { Host } from "../core/address.ts";
import { lookupHost, reverseName } from "./resolve.ts";
import { type OpensslCli, opensslCli, trustOnlyArgs } from "./openssl_cli.ts";

/** Where and how to probe. */
export interface ProbeSpec {
  /** Host as used in an address (IPv6 bracketed). */
  target: string;
  port: number;
  tls: TlsOptions;
  timeoutSec: number;
  /** The joiner, for messages. */
  peer: string;
  /** Ends the probe at once (rejecting with its reason) when it aborts. */
  signal?: AbortSignal;
}

/** The rsync daemon's greeting: what a joiner answers once it accepted our certificate. */
export const RSYNC_GREETING = "@RSYNCD:";

/** How a probe ended. */
export type ProbeOutcome =
  /** The peer answered with one of the expected greetings: its certificate chain, leaf first. */
  | { kind: "answered"; leaf: CertificateInfo; pems: string[]; output: string }
  /** The connection ended without a greeting: s_client's output and error text. */
  | { kind: "failed"; output: string }
  /** No greeting within the time allowed. */
  | { kind: "silent" };

/**
 * The probe itself: one `openssl s_client` handshake presenting our certificate (with its chain)
 * and verifying the peer's chain; done when the peer sends one of `greetings` (default: the rsync
 * daemon's). `check --peer` probes `check --listen` with this very function.
 */
export async function probePeer(
  adapter: ProcessAdapter,
  spec: ProbeSpec,
  greetings: readonly string[] = [RSYNC_GREETING],
): Promise<ProbeOutcome> {
  const cli = await opensslCli(adapter);
  const child = adapter.spawn({
    cmd: "openssl",
    args: probeArgs(spec, cli),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    group: true,
  });
  const stderr = new Response(child.stderr).text();
  let out = "";
  const greeted = (async () => {
    for await (const chunk of child.stdout!.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      if (greetings.some((g) => out.includes(g))) return true;
    }
    return false;
  })();
  let ok: boolean | null;
  try {
    ok = await withDeadline(greeted, {
      ms: spec.timeoutSec * 1000,
      signal: spec.signal,
      onTimeout: () => null,
    });
  } finally {
    await stop(child, 1000);
    await child.stdin?.close().catch(() => {});
  }
  if (ok === null) return { kind: "silent" };
  const pems = [...out.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)]
    .map((m) => m[0]);
  if (!ok || pems.length === 0) return { kind: "failed", output: out + "\n" + (await stderr) };
  return {
    kind: "answered",
    leaf: describeCertificate(new X509Certificate(pems[0])),
    pems,
    output: out,
  };
}

/**
 * Fetches and verifies (chain only) the joiner's certificate, presenting ours (with its
 * chain). Success means more than our own verification: the joiner must accept our
 * certificate too and answer with its rsync daemon's greeting — with TLS 1.3 the joiner's
 * verdict on our certificate arrives only after the handshake, so we wait for it.
 */
export async function fetchPeerCertificate(
  adapter: ProcessAdapter,
  spec: ProbeSpec,
): Promise<CertificateInfo> {
  const outcome = await probePeer(adapter, spec);
  switch (outcome.kind) {
    case "answered":
      return outcome.leaf;
    case "failed":
      throw probeFailure(outcome.output, spec.peer);
    case "silent":
      throw new TimeoutError(
        `no answer from joiner ${spec.peer} within [sst] tunnel-connect-timeout=` +
          `${spec.timeoutSec} s; check that the joiner is reachable (routing, firewall)`,
      );
  }
}

/**
 * `openssl s_client` arguments of the probe: our certificate and chain, our CAs only (never
 * OpenSSL's defaults; options as the installed 1.1.1 or 3.x understands them), no SNI.
 */
export function probeArgs(spec: ProbeSpec, cli: OpensslCli): string[] {
  const args = [
    "s_client",
    "-connect",
    `${spec.target}:${spec.port}`,
    "-cert",
    spec.tls.certFile,
    "-cert_chain",
    spec.tls.certFile,
    "-key",
    spec.tls.keyFile,
    "-verify_return_error",
    "-noservername",
    "-showcerts",
  ];
  args.push(...trustOnlyArgs(cli, spec.tls));
  return args;
}

/**
 * One actionable error for a failed probe, from s_client's output: the network (a name that
 * does not resolve, nothing listening) or TLS, as `check --peer` judges it too.
 */
export function probeFailure(output: string, peer: string): SstError {
  return connectionError(output, peer);
}

/** All names and addresses a certificate is issued for, for messages. */
export function certificateNames(c: CertificateInfo): string {
  const names = [
    ...c.dnsNames.map((d) => `DNS:${d}`),
    ...c.ipAddresses.map((i) => `IP:${i}`),
  ];
  return `${c.subject}${names.length ? `; subjectAltName ${names.join(", ")}` : ""}`;
}

/**
 * Whether socat 1.7.4 can verify `name` against this certificate. It compares `commonname`
 * with every SAN DNS entry first (any match succeeds), then walks the SAN IP entries in order,
 * and an IPv6 entry makes it parse the expected name as IPv6: an IPv4 address or DNS name
 * aborts the check there, even if a later entry would match.
 */
export function socatCanVerify(leaf: CertificateInfo, name: string): boolean {
  if (!certificateMatchesHost(leaf, name)) return false;
  const v6 = (ip: string) => ip.includes(":");
  if (name.includes(":")) return true; // IPv6 literal: compared as IPv6 throughout
  if (!isIpv4(name)) {
    const lower = name.toLowerCase();
    return leaf.dnsNames.some((d) => certificateMatchesHost({ ...leaf, dnsNames: [d] }, lower)) ||
      !leaf.ipAddresses.some(v6);
  }
  const firstV6 = leaf.ipAddresses.findIndex(v6);
  const match = leaf.ipAddresses.indexOf(name);
  return firstV6 < 0 || (match >= 0 && match < firstV6);
}

/**
 * The names the donor may check the joiner's certificate for, in order: the host name as
 * addressed; for an IP, the IP itself (a subjectAltName IP entry is the strongest identity),
 * then the system resolver's name for it, but only when that name resolves back to the same
 * address: whoever controls a reverse zone can claim any name there, a forward zone too is
 * needed to make it stick.
 */
export async function peerNameCandidates(adapter: ProcessAdapter, host: Host): Promise<string[]> {
  if (host.kind === "name") return [host.name];
  const name = await reverseName(adapter, host.address);
  if (name === null) return [host.address];
  const ip = parseIpBytes(host.address);
  const back = (await lookupHost(adapter, name)).map(parseIpBytes);
  if (ip && back.some((b) => b !== null && sameIpBytes(b, ip))) return [host.address, name];
  log.info(
    `the resolver names ${host.address} '${name}', but '${name}' does not resolve to ` +
      `${host.address}; the joiner's certificate must carry IP:${host.address}`,
  );
  return [host.address];
}

/** Which identity `chosen` is for an SST address of `host`, for the log. */
export function identityOf(chosen: string, host: Host): string {
  if (host.kind === "name") return "the host name the joiner is addressed by";
  return chosen === host.address
    ? "a subjectAltName IP entry or the common name"
    : `the resolver's name for ${host.address}, which resolves back to it`;
}

/** The subjectAltName entry that names `host` (an IP or a DNS name). */
function sanFor(host: string): string {
  return parseIpBytes(host) ? `IP:${host}` : `DNS:${host}`;
}

/** Picks the name socat must check: the first candidate socat can verify the certificate for. */
export function choosePeerName(
  leaf: CertificateInfo,
  candidates: readonly string[],
  peer: string,
): string {
  const chosen = candidates.find((c) => socatCanVerify(leaf, c));
  if (chosen) return chosen;
  const issuedFor = candidates.filter((c) => certificateMatchesHost(leaf, c));
  const why = issuedFor.length > 0
    ? `is issued for '${issuedFor[0]}', but socat 1.7.4 cannot check an IPv4 address listed ` +
      "after an IPv6 subjectAltName entry; reissue it with the IPv4 entry (or a DNS name) " +
      "before any IPv6 entry"
    : `is not issued for ${candidates.map((c) => `'${c}'`).join(" or ")}; reissue the ` +
      `joiner's [sst] tcert with subjectAltName ${sanFor(candidates[0])}, or address the ` +
      "joiner by a name its certificate carries";
  throw new SstError(
    ExitCode.peerRejected,
    `the certificate of joiner ${peer} (${certificateNames(leaf)}) ${why}`,
  );
}
