/**
 * The node's private key (`tkey`, or `tcert` when `tkey` is unset): present, not
 * passphrase-protected, parseable, belonging to the certificate socat presents, and not
 * readable by group or others.
 *
 * @module
 */
import { createPrivateKey, type KeyObject, type X509Certificate } from "node:crypto";
import { ConfigError } from "../core/errors.ts";
import { oneLineSubject } from "./certificate_info.ts";
import { isCertBlock, isKeyBlock, pemBlocks } from "./pem.ts";
import { type InputFile, octal } from "./tls_input_files.ts";
import { errorText, type Key, ref, short } from "./tls_keys.ts";

/** Where the private key was read from. */
export interface KeySource {
  /** `tcert` when the key is in the certificate file, else `tkey`. */
  key: Key;
  /** The `tkey` setting, for advice. */
  keyKey: Key;
  path: string;
  file: InputFile;
}

function missingKeyError(src: KeySource): ConfigError {
  if (src.key.id === "tcert") {
    return new ConfigError(
      `${ref(src.key, src.path)} contains no private key and ${src.keyKey.setting} is not set; ` +
        `set ${src.keyKey.setting} to the node's private key file (or append the key to ` +
        `${short(src.key)})`,
    );
  }
  const holds = pemBlocks(src.file.text).some(isCertBlock) ? " (it holds a certificate)" : "";
  return new ConfigError(
    `${ref(src.key, src.path)} contains no PEM private key${holds}; point ${src.key.setting} ` +
      "at the node's private key file",
  );
}

/** Loads the private key socat will use; rejects missing, encrypted and broken keys. */
export function loadKey(src: KeySource): KeyObject {
  const block = pemBlocks(src.file.text).find(isKeyBlock);
  if (!block) throw missingKeyError(src);
  if (block.encrypted) {
    throw new ConfigError(
      `${ref(src.key, src.path)} holds a passphrase-protected private key, which cannot be ` +
        "used non-interactively (nobody can type the passphrase during an SST); write a " +
        `decrypted copy with 'openssl pkey -in ${src.path} -out <new file>', chmod 600 it ` +
        `and point ${src.keyKey.setting} at it`,
    );
  }
  try {
    return createPrivateKey(block.pem);
  } catch (e) {
    throw new ConfigError(
      `${ref(src.key, src.path)} holds a private key that cannot be parsed ` +
        `(${errorText(e)}); replace it with the node's PEM private key`,
    );
  }
}

function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** The key must belong to the first certificate of `tcert` (the one socat presents). */
export function checkKeyMatches(
  certs: X509Certificate[],
  key: KeyObject,
  src: KeySource,
  cert: Key,
  certPath: string,
): void {
  if (keyMatches(certs[0], key)) return;
  const other = certs.findIndex((c, i) => i > 0 && keyMatches(c, key));
  if (other > 0) {
    throw new ConfigError(
      `${ref(cert, certPath)} lists certificate #${other + 1} ` +
        `(${oneLineSubject(certs[other])}) after another one, but the private key belongs to ` +
        "it; put the node certificate first, followed by its intermediate CA certificates",
    );
  }
  if (src.key.id === "tcert") {
    throw new ConfigError(
      `the private key in ${ref(cert, certPath)} does not match its certificate (public ` +
        "keys differ); put the key the certificate was issued for into the file, or set " +
        `${src.keyKey.setting} to it`,
    );
  }
  throw new ConfigError(
    `${ref(src.key, src.path)} does not match the certificate in ${ref(cert, certPath)} ` +
      `(public keys differ); point ${short(src.key)} at the key the certificate was issued for`,
  );
}

/** A warning when the key file is readable by group or others, else null. */
export function keyModeWarning(src: KeySource): string | null {
  const mode = src.file.mode & 0o777;
  if ((mode & 0o044) === 0) return null;
  const who = (mode & 0o040 ? ["group"] : []).concat(mode & 0o004 ? ["others"] : []);
  return `${ref(src.key, src.path)} holds the private key and is readable by ` +
    `${who.join(" and ")} (mode ${octal(mode)}); chmod 600 it`;
}
