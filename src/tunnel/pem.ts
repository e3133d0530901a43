/**
 * PEM text in the TLS files: its blocks (certificates, private keys, encrypted or not) and the
 * certificates of `tcert`, with advice when a file holds DER, only a key, or nothing usable.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { ConfigError } from "../core/errors.ts";
import type { InputFile } from "./tls_input_files.ts";
import { errorText, type Key, ref } from "./tls_keys.ts";

/** One `-----BEGIN <label>-----` … `-----END <label>-----` block. */
export interface PemBlock {
  label: string;
  pem: string;
  encrypted: boolean;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** The PEM blocks of a file, in order. */
export function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(PEM_RE)].map((m) => ({
    label: m[1],
    pem: m[0] + "\n",
    encrypted: m[1] === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,ENCRYPTED/.test(m[0]),
  }));
}

/** True for a certificate block. */
export function isCertBlock(b: PemBlock): boolean {
  return b.label === "CERTIFICATE" || b.label === "X509 CERTIFICATE" ||
    b.label === "TRUSTED CERTIFICATE";
}

/** True for a private key block (PKCS#8, RSA, EC, encrypted). */
export function isKeyBlock(b: PemBlock): boolean {
  return /(^| )PRIVATE KEY$/.test(b.label);
}

/** DER starts with a SEQUENCE tag; PEM is text. */
function looksLikeDer(bytes: Uint8Array): boolean {
  return bytes.length > 2 && bytes[0] === 0x30 && (bytes[1] & 0x80) !== 0;
}

/** `path` (of setting `key`, `tcert` or `tca`) holds no certificate: why, and what to do. */
export function noCertificateError(key: Key, path: string, file: InputFile): ConfigError {
  const blocks = pemBlocks(file.text);
  let hint: string;
  if (looksLikeDer(file.bytes)) {
    hint = `it looks like binary DER; convert it with 'openssl x509 -inform der -in ${path} ` +
      `-out <file>.pem' and point ${key.setting} at the result`;
  } else if (blocks.some(isKeyBlock)) {
    hint = `it holds only a private key; point ${key.setting} at the certificate`;
  } else {
    hint = key.id === "tca"
      ? `point ${key.setting} at the PEM file of the CA certificate(s) that issued the ` +
        "nodes' certificates"
      : `point ${key.setting} at the node's PEM certificate ('-----BEGIN CERTIFICATE-----')`;
  }
  return new ConfigError(`${ref(key, path)} contains no PEM certificate; ${hint}`);
}

/** The certificates of `tcert`, leaf first. */
export function parseCertificates(cert: Key, path: string, file: InputFile): X509Certificate[] {
  const blocks = pemBlocks(file.text).filter(isCertBlock);
  if (blocks.length === 0) throw noCertificateError(cert, path, file);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b.pem);
    } catch (e) {
      throw new ConfigError(
        `${ref(cert, path)}: certificate #${i + 1} cannot be parsed (${errorText(e)}); ` +
          "replace it with a valid PEM certificate",
      );
    }
  });
}
