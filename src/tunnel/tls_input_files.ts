/**
 * Reading the TLS files (`tca`, `tcert`, `tkey`, and stat of `tcapath`): every failure
 * (missing, a directory, unreadable, a broken parent path) becomes one actionable line naming
 * the setting, the file and, for permissions, the user this SST runs as.
 *
 * @module
 */
import { ConfigError, ExitCode, SstError } from "../core/errors.ts";
import { errorText, type Key, ref } from "./tls_keys.ts";
import { fsErrorKind, whoAmI } from "../core/fs_errors.ts";

/** One TLS file as read: its bytes, the same as text, and its mode bits. */
export interface InputFile {
  bytes: Uint8Array;
  text: string;
  mode: number;
}

/** `path` (of setting `key`) may not be read by us; `what` says which permission failed. */
export function accessError(key: Key, path: string, what: string): SstError {
  const who = whoAmI();
  return new SstError(
    ExitCode.access,
    `${ref(key, path)} is not readable by ${who}, the user this SST runs as (${what}); ` +
      `chown it to that user or chmod it so that user can read it (and every parent ` +
      `directory can be searched)`,
  );
}

/** Any other failure to read `path` (of setting `key`). */
export function ioError(key: Key, path: string, e: unknown): SstError {
  if (fsErrorKind(e) === "ELOOP") {
    return new SstError(
      ExitCode.loop,
      `${ref(key, path)} goes through a loop of symbolic links; fix the links on the path`,
    );
  }
  return new SstError(
    ExitCode.io,
    `${ref(key, path)} cannot be read (${errorText(e)}); fix the file`,
  );
}

/** Stats a TLS file or directory, turning every failure into an actionable error. */
export async function statInput(key: Key, path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(
        `${ref(key, path)} does not exist; fix the path in ${key.setting} or put the file there`,
      );
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw accessError(key, path, "permission denied on a parent directory");
    }
    if (e instanceof Deno.errors.NotADirectory) {
      throw new ConfigError(
        `${ref(key, path)}: a component of the path is a file, not a directory; fix the path`,
      );
    }
    throw ioError(key, path, e);
  }
}

function notAFileError(key: Key, path: string, st: Deno.FileInfo): ConfigError {
  if (st.isDirectory) {
    const hint = key.id === "tca" ? " (for a directory of CA certificates use [sst] tcapath)" : "";
    return new ConfigError(
      `${ref(key, path)} is a directory, not a file; point ${key.setting} at a PEM file${hint}`,
    );
  }
  return new ConfigError(
    `${ref(key, path)} is not a regular file (a device, FIFO or socket); point ${key.setting} ` +
      "at a PEM file",
  );
}

/** Reads one of the TLS files, turning every failure into an actionable SstError. */
export async function readInput(key: Key, path: string): Promise<InputFile> {
  const st = await statInput(key, path);
  if (!st.isFile) throw notAFileError(key, path, st);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw accessError(key, path, `permission denied, mode ${octal(st.mode)}`);
    }
    throw ioError(key, path, e);
  }
  return { bytes, text: new TextDecoder().decode(bytes), mode: st.mode ?? 0 };
}

/** File mode bits as `0640`. */
export function octal(mode: number | null): string {
  return mode === null ? "unknown" : "0" + (mode & 0o7777).toString(8).padStart(3, "0");
}
