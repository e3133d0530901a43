/**
 * Certificate preflight: checks the node's TLS material (`[sst] tca`, `tcapath`, `tcert`,
 * `tkey`) locally before socat starts, so that a bad file fails the SST before any data moves,
 * with one actionable line. Also turns socat's TLS error lines into such lines.
 *
 * What socat 1.7.4.4 with OpenSSL 3.0 does (each point is reproduced by a test in
 * test/unit/certificates_test.ts):
 *
 * - `commonname=` is compared with every subjectAltName DNS entry (plain `strcmp`, so it is
 *   case-sensitive; `*.d` matches `d` itself and one more label), then with every SAN IP entry
 *   (as addresses: `::1` equals `0:0:0:0:0:0:0:1`), and, when no SAN matched, with the subject
 *   CN even if the certificate has SANs. So socat enforces the peer's name itself and we need
 *   no name check of our own during the handshake; `certificateMatchesHost` (host_names.ts)
 *   follows RFC 6125 (stricter: CN only without SAN DNS entries) and is meant for diagnostics.
 * - A SAN IPv6 entry makes socat resolve the expected name as IPv6; a name that is not an IPv6
 *   literal then aborts the check with `getaddrinfo("<name>", "NULL", {1,10,0,0}, {}): Address
 *   family for hostname not supported` (or `Name or service not known`), even when a later SAN
 *   or the CN would match.
 * - An empty `commonname=` disables the name check while the chain is still verified (socat
 *   1.7.4 and 1.8; the stock mariabackup script relies on it too): passed only for
 *   `ssl-mode=VERIFY_CA`.
 * - On a name mismatch socat logs `certificate is valid but its commonName does not match
 *   hostname "<name>"`.
 * - The verifying side logs only `SSL_connect(): error:0A000086:SSL routines::certificate
 *   verify failed` (or `SSL_accept(): …`), never the X509 reason (untrusted, expired, not yet
 *   valid, wrong purpose all look alike). The rejected side gets the reason as a TLS alert:
 *   `tlsv1 alert unknown ca`, `sslv3 alert certificate expired`, `sslv3 alert bad certificate`
 *   (not yet valid), `sslv3 alert unsupported certificate` (wrong purpose).
 * - A client without certificate: the listener logs `peer did not return a certificate`, the
 *   client `tlsv13 alert certificate required`.
 * - TLS to a plaintext server: `wrong version number` (or `unexpected eof while reading` when it
 *   closes silently); plaintext to a TLS listener: `wrong version number` or `http request`.
 * - libssl checks the certificate purpose by default: the listener's (joiner's) certificate as
 *   `sslserver`, the connecting (donor's) certificate as `sslclient`. The preflight checks
 *   exactly that purpose for the role and only warns about the other one.
 * - A `capath=` directory is searched only through `<subject-hash>.N` names (`openssl
 *   rehash`); plain `*.pem` files there verify nothing (`unable to get local issuer
 *   certificate`).
 * - socat stops at its first error, so a failure yields one `E` line.
 *
 * The checks live one concern per file: reading the files (tls_input_files.ts), PEM and
 * certificates (pem.ts, certificate_info.ts), the private key (private_key.ts), the CA file and
 * directory (ca_locations.ts), `openssl verify` (openssl_verify.ts), host names
 * (host_names.ts); this module runs them in order.
 *
 * @module
 */
import type { TlsRole } from "../config/tls_settings.ts";
import { ConfigError } from "../core/errors.ts";
import { denoAdapter, type ProcessAdapter } from "../proc/process.ts";
import { checkCaDir, checkCaFile, requireCaDir } from "./ca_locations.ts";
import {
  type CertificateInfo,
  checkValidity,
  describeCertificate,
  leafWarnings,
} from "./certificate_info.ts";
import { checkChain, PURPOSE, type VerifyPlan } from "./openssl_verify.ts";
import { parseCertificates } from "./pem.ts";
import { checkKeyMatches, keyModeWarning, type KeySource, loadKey } from "./private_key.ts";
import { readInput } from "./tls_input_files.ts";
import { type Keys, keysOf, namesOf, type TlsNames } from "./tls_keys.ts";

export type { CertificateInfo, TlsNames, TlsRole };

/** The raw values naming the TLS material (`tca`, `tcapath`, `tcert`, `tkey` or their aliases). */
export interface TlsFiles {
  ca?: string;
  caPath?: string;
  cert?: string;
  key?: string;
  /**
   * How messages name each setting (where its value came from); by default `[sst] tca`,
   * `[sst] tcapath`, `[sst] tcert`, `[sst] tkey`.
   */
  names?: Partial<TlsNames>;
  /**
   * No CA required (`ssl-mode=REQUIRED`: peers are not verified). A CA that is given is still
   * checked against the certificate.
   */
  caOptional?: boolean;
}

/** The TLS material after {@link checkTlsFiles}: paths to pass to socat, and the leaf. */
export interface CheckedTls {
  caFile?: string;
  caPath?: string;
  certFile: string;
  /** The file holding the private key; equals `certFile` when the key is in `tcert`. */
  keyFile: string;
  leaf: CertificateInfo;
  /** Problems that do not stop the SST, one actionable line each. */
  warnings: string[];
  /** How messages name the settings the files came from. */
  names: TlsNames;
}

/** Options of {@link checkTlsFiles}. */
export interface CheckOptions {
  /** The time to check validity at (default: now). Also passed to `openssl verify`. */
  now?: Date;
  /** Our role; its TLS purpose is enforced, the other role's purpose only warned about. */
  role?: TlsRole;
  /** Starts `openssl` (default: the real adapter). */
  adapter?: ProcessAdapter;
}

/** The value, or undefined when it is unset or blank. */
function given(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

function requireConfig(
  files: TlsFiles,
  k: Keys,
): { cert: string; ca?: string; caPath?: string } {
  const cert = given(files.cert);
  if (!cert) {
    throw new ConfigError(
      `${k.tcert.setting} is not set; set ${k.tcert.setting} to the node's PEM certificate ` +
        `(and ${k.tkey.setting} to its key unless the key is in the same file)`,
    );
  }
  const ca = given(files.ca);
  const caPath = given(files.caPath);
  if (!ca && !caPath && !files.caOptional) {
    throw new ConfigError(
      `neither ${k.tca.setting} nor ${k.tcapath.setting} is set; mutual TLS verification ` +
        "needs the CA that issued the nodes' certificates (this SST never runs without " +
        `verification unless ssl-mode=REQUIRED): set ${k.tca.setting} to that CA's PEM file`,
    );
  }
  return { cert, ca, caPath };
}

/**
 * Checks the node's TLS material; throws SstError with an actionable message on the first
 * problem.
 *
 * In order: `tcert` set; `tca` or `tcapath` set; each file exists, is a regular file and is
 * readable; `tcert` holds a PEM certificate; a private key exists (in `tkey`, or in `tcert`
 * when `tkey` is unset), is not passphrase-protected and parses; it matches the first
 * certificate of `tcert`; that certificate is valid at `now`; `tca` holds a certificate and
 * `tcapath` is a hashed directory; and `openssl verify` accepts the chain (intermediates from
 * `tcert`) against exactly the configured CAs for the TLS purpose of `role` (libssl checks the
 * joiner's certificate as `sslserver` and the donor's as `sslclient`).
 *
 * Failures are {@link ConfigError} (exit 22), or {@link SstError} with `ExitCode.access`
 * (exit 13) for files we may not read.
 */
export async function checkTlsFiles(files: TlsFiles, opts?: CheckOptions): Promise<CheckedTls> {
  const k = keysOf(files.names);
  const { cert: certPath, ca: caFile, caPath } = requireConfig(files, k);
  const now = opts?.now ?? new Date();
  const keyPath = given(files.key);
  const certFile = await readInput(k.tcert, certPath);
  const keySrc: KeySource = keyPath
    ? { key: k.tkey, keyKey: k.tkey, path: keyPath, file: await readInput(k.tkey, keyPath) }
    : { key: k.tcert, keyKey: k.tkey, path: certPath, file: certFile };
  const caText = caFile ? await readInput(k.tca, caFile) : undefined;
  if (caPath) await requireCaDir(k, caPath);
  const certs = parseCertificates(k.tcert, certPath, certFile);
  checkKeyMatches(certs, loadKey(keySrc), keySrc, k.tcert, certPath);
  const leaf = describeCertificate(certs[0]);
  checkValidity(leaf, k.tcert, certPath, now);
  const warnings: string[] = [];
  if (caFile && caText) checkCaFile(k.tca, caFile, caText);
  if (caPath) await checkCaDir(k, caPath, caFile !== undefined, warnings);
  const plan: VerifyPlan = {
    adapter: opts?.adapter ?? denoAdapter,
    caFile,
    caPath,
    leafPem: certs[0].toString(),
    untrusted: certs.length > 1 ? certPath : undefined,
    now: opts?.now,
  };
  const purpose = opts?.role ? PURPOSE[opts.role] : undefined;
  // Without a CA (ssl-mode=REQUIRED only) there is nothing to verify the chain against.
  if (caFile || caPath) await checkChain(plan, { k, certPath, caFile, caPath, purpose }, warnings);
  warnings.push(...leafWarnings(leaf, k.tcert, certPath, now));
  const modeWarning = keyModeWarning(keySrc);
  if (modeWarning) warnings.push(modeWarning);
  return {
    caFile,
    caPath,
    certFile: certPath,
    keyFile: keySrc.path,
    leaf,
    warnings,
    names: namesOf(k),
  };
}
