/**
 * The two places the CA certificates come from: `tca` (a PEM file or bundle) must hold a
 * certificate; `tcapath` must be a directory OpenSSL can look CA certificates up in, that is
 * one with `<subject-hash>.N` names (`openssl rehash`).
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import { isCertBlock, noCertificateError, pemBlocks } from "./pem.ts";
import { accessError, type InputFile, ioError, statInput } from "./tls_input_files.ts";
import { type Key, type Keys, ref } from "./tls_keys.ts";

/** tca must hold at least one PEM certificate. */
export function checkCaFile(ca: Key, path: string, file: InputFile): void {
  if (!pemBlocks(file.text).some(isCertBlock)) throw noCertificateError(ca, path, file);
}

/** tcapath must exist and be a directory. */
export async function requireCaDir(k: Keys, path: string): Promise<void> {
  const st = await statInput(k.tcapath, path);
  if (!st.isDirectory) {
    throw new ConfigError(
      `${ref(k.tcapath, path)} is not a directory; point ${k.tcapath.setting} at a directory ` +
        "of CA certificates prepared with 'openssl rehash', or put a CA file or bundle in " +
        k.tca.setting,
    );
  }
}

const HASH_NAME_RE = /^[0-9a-f]{8}\.[0-9]+$/;

async function listDir(capath: Key, path: string): Promise<string[]> {
  try {
    const names: string[] = [];
    for await (const e of Deno.readDir(path)) names.push(e.name);
    return names;
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw accessError(capath, path, "the directory cannot be listed");
    }
    throw ioError(capath, path, e);
  }
}

/**
 * OpenSSL finds CA certificates in a capath only by `<subject-hash>.N` names. Without any, the
 * directory is useless: an error, or a warning when `tca` is there to do the job.
 */
export async function checkCaDir(
  k: Keys,
  path: string,
  haveCaFile: boolean,
  warnings: string[],
): Promise<void> {
  const names = await listDir(k.tcapath, path);
  if (names.some((n) => HASH_NAME_RE.test(n))) return;
  const found = names.length === 0 ? "it is empty" : `${names.length} entries, none hashed`;
  const message = `${ref(k.tcapath, path)} has no <subject-hash>.0 entries, the only names ` +
    `OpenSSL looks CA certificates up by (${found}); run 'openssl rehash ${path}'` +
    (names.length === 0 ? " after copying the CA certificates there" : "");
  if (!haveCaFile) throw new ConfigError(message);
  warnings.push(`${message} (until then only ${k.tca.setting} is used)`);
}
