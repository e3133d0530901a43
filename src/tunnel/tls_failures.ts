/**
 * socat's TLS error lines, recognised and turned into one actionable line each. What socat
 * 1.7.4.4 prints for each failure is recorded at the top of certificates.ts (and reproduced by
 * test/unit/certificates_test.ts).
 *
 * @module
 */

/** Folds whitespace (including newlines) so a message stays on one log line. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * A TLS failure recognised in socat's stderr. `origin` says who detected it: `local` means our
 * socat found fault with the peer (its certificate or its protocol), `remote` means the peer
 * sent an alert about our certificate.
 */
export type TlsFailure = {
  kind:
    | "untrusted"
    | "expired"
    | "not-yet-valid"
    | "name-mismatch"
    | "not-tls"
    | "no-peer-cert"
    | "other";
  /** The reason as socat/OpenSSL worded it, one line. */
  detail: string;
  origin?: "local" | "remote";
};

interface Rule {
  re: RegExp;
  kind: TlsFailure["kind"];
  origin: "local" | "remote";
  /** Detail text; default: the reason part of the matching line. */
  detail?: (m: RegExpMatchArray) => string;
}

/** Most specific first: socat prints one error line, older versions add the X509 reason. */
const RULES: Rule[] = [
  { re: /commonName does not match hostname/i, kind: "name-mismatch", origin: "local" },
  {
    re: /getaddrinfo\("([^"]*)", "NULL", \{\d+,10,0,0\}, \{\}\): (.*)$/,
    kind: "name-mismatch",
    origin: "local",
    detail: (m) =>
      `the expected name "${m[1]}" is not an IPv6 address but the certificate has IPv6 ` +
      `subjectAltName entries, and socat 1.7.4 then fails to compare (getaddrinfo: ${m[2]})`,
  },
  { re: /peer did not return a certificate/i, kind: "no-peer-cert", origin: "local" },
  { re: /\bno peer certificate\b/i, kind: "no-peer-cert", origin: "local" },
  { re: /alert certificate required/i, kind: "no-peer-cert", origin: "remote" },
  { re: /certificate has expired/i, kind: "expired", origin: "local" },
  { re: /alert certificate expired/i, kind: "expired", origin: "remote" },
  { re: /certificate is not yet valid/i, kind: "not-yet-valid", origin: "local" },
  { re: /unable to get (local )?issuer certificate/i, kind: "untrusted", origin: "local" },
  { re: /self[- ]signed certificate/i, kind: "untrusted", origin: "local" },
  { re: /unsuitable certificate purpose/i, kind: "untrusted", origin: "local" },
  { re: /alert unknown ca/i, kind: "untrusted", origin: "remote" },
  { re: /alert unsupported certificate/i, kind: "untrusted", origin: "remote" },
  { re: /alert bad certificate/i, kind: "untrusted", origin: "remote" },
  { re: /alert certificate unknown/i, kind: "untrusted", origin: "remote" },
  { re: /certificate verify failed/i, kind: "untrusted", origin: "local" },
  { re: /wrong version number/i, kind: "not-tls", origin: "local" },
  { re: /packet length too long/i, kind: "not-tls", origin: "local" },
  { re: /https? (proxy )?request/i, kind: "not-tls", origin: "local" },
  { re: /unexpected eof while reading/i, kind: "not-tls", origin: "local" },
  { re: /unknown protocol/i, kind: "not-tls", origin: "local" },
  { re: /SSL_(connect|accept)\(\): socket closed by peer/, kind: "not-tls", origin: "local" },
  { re: /error:[0-9A-F]{8}:|SSL routines|\balert\b/i, kind: "other", origin: "local" },
];

const SOCAT_PREFIX_RE = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d socat\[\d+\] ([A-Z]) /;

/** socat's error lines (E/F/W, or lines not in socat's format), prefix removed. */
function errorLines(stderr: string): string[] {
  const out: string[] = [];
  for (const raw of stderr.split(/\r?\n/)) {
    const m = raw.match(SOCAT_PREFIX_RE);
    if (m && !"EFW".includes(m[1])) continue;
    const line = oneLine(m ? raw.slice(m[0].length) : raw);
    if (line !== "") out.push(line);
  }
  return out;
}

/** `SSL_connect(): error:0A000086:SSL routines::certificate verify failed` → the reason. */
function reasonOf(line: string): string {
  const m = line.match(/error:[0-9A-F]{8}:[^:]*:[^:]*:(.+)$/i);
  return oneLine(m ? m[1] : line);
}

/**
 * Recognises a TLS failure in socat's stderr (socat 1.7.4.4 wording, observed in the tests;
 * the X509 reasons that other versions print are recognised too). Null if there is none.
 */
export function classifySocatTlsError(stderr: string): TlsFailure | null {
  const lines = errorLines(stderr);
  for (const rule of RULES) {
    for (const line of lines) {
      const m = line.match(rule.re);
      if (!m) continue;
      const detail = rule.detail ? rule.detail(m) : reasonOf(line);
      return { kind: rule.kind, detail: oneLine(detail), origin: rule.origin };
    }
  }
  return null;
}

function describeUntrusted(f: TlsFailure, peer: string, d: string): string {
  if (f.origin === "remote") {
    if (/unsupported certificate/i.test(d)) {
      return `${peer} rejected our certificate as not allowed for this TLS role (${d}); ` +
        "reissue our [sst] tcert with extendedKeyUsage = serverAuth, clientAuth";
    }
    if (/unknown ca/i.test(d)) {
      return `${peer} does not trust the CA that issued our certificate (${d}); put our CA ` +
        `into [sst] tca on ${peer}, or give this node a certificate from the CA ${peer} trusts`;
    }
    return `${peer} rejected our certificate (${d}); on ${peer}, check that our [sst] tcert ` +
      "verifies against its tca ('openssl verify -CAfile <its tca> <our tcert>') and that " +
      "both clocks are right";
  }
  if (/purpose/i.test(d)) {
    return `the certificate of ${peer} is not allowed for this TLS role (${d}); reissue ` +
      `${peer}'s [sst] tcert with extendedKeyUsage = serverAuth, clientAuth`;
  }
  if (/issuer|self[- ]signed/i.test(d)) {
    return `the certificate of ${peer} is not issued by a CA in our [sst] tca/tcapath (${d}); ` +
      `add the CA that issued ${peer}'s tcert to our tca, or give ${peer} a certificate from ` +
      "our CA";
  }
  return `we rejected the certificate of ${peer} (${d}): it is not issued by a CA in our ` +
    "[sst] tca/tcapath, has expired, is not valid yet or is not allowed for this TLS role " +
    `(socat does not say which); run 'openssl verify -CAfile <our tca> <${peer}'s tcert>' ` +
    "to see why";
}

/** One actionable line for a {@link TlsFailure} seen while talking to `peer`. */
export function describeTlsFailure(f: TlsFailure, peer: string): string {
  const d = oneLine(f.detail);
  switch (f.kind) {
    case "untrusted":
      return describeUntrusted(f, peer, d);
    case "expired":
      return f.origin === "remote"
        ? `${peer} rejected our certificate as expired (${d}); renew our [sst] tcert, or fix ` +
          "the clock on whichever node is wrong"
        : `the certificate of ${peer} has expired (${d}); renew ${peer}'s [sst] tcert, or fix ` +
          "the clock on whichever node is wrong";
    case "not-yet-valid":
      return `the certificate of ${peer} is not valid yet (${d}); fix the clock on this node ` +
        `or on ${peer}, or use a certificate that is already valid`;
    case "name-mismatch":
      return `the certificate of ${peer} is not issued for the name we expect (${d}); reissue ` +
        `${peer}'s [sst] tcert with that name in subjectAltName (DNS:<name> or IP:<address>), ` +
        "or address the joiner by a name its certificate carries";
    case "not-tls":
      return `${peer} is not speaking TLS (${d}); make sure it runs the rsync_tunnel SST ` +
        "method with [sst] tca/tcert set, and that no other service answers on that port";
    case "no-peer-cert":
      return f.origin === "remote"
        ? `${peer} requires a client certificate and we sent none (${d}); set [sst] tcert ` +
          "(and tkey) on this node"
        : `${peer} sent no certificate but we require one (${d}); set [sst] tcert (and tkey) ` +
          `on ${peer}`;
    case "other":
      return `the TLS handshake with ${peer} failed (${d}); check [sst] tca, tcert and tkey ` +
        "on both nodes";
  }
}
