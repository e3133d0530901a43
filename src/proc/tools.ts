/**
 * The programs we shell out to, found and checked before anything starts (fail closed:
 * no socat with OpenSSL, no SST — never a plaintext fallback).
 *
 * @module
 */
import { MissingToolError } from "../core/errors.ts";
import { type ProcessAdapter, run, which } from "./process.ts";

/** Absolute paths and versions of our helpers. */
export interface Tools {
  socat: string;
  socatVersion: string;
  rsync: string;
  rsyncVersion: string;
}

const INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install PKG; RHEL: dnf install PKG)";

function require(name: string): string {
  const path = which(name);
  if (!path) {
    throw new MissingToolError(
      `${name} not found in PATH (${Deno.env.get("PATH") ?? ""}); ` +
        INSTALL_HINT.replaceAll("PKG", name),
    );
  }
  return path;
}

/** Parses `socat -V`: version and whether OpenSSL support was compiled in. */
export function parseSocatVersion(text: string): { version: string; openssl: boolean } {
  const version = text.match(/socat version (\S+)/)?.[1] ?? "unknown";
  return { version, openssl: /#define WITH_OPENSSL 1/.test(text) };
}

/** Finds socat and rsync and checks that socat can do TLS. */
export async function findTools(adapter: ProcessAdapter): Promise<Tools> {
  const socat = require("socat");
  const rsync = require("rsync");
  const sv = await run(adapter, { cmd: socat, args: ["-V"] }, { timeoutMs: 10_000 });
  const parsed = parseSocatVersion(sv.stdout);
  if (!parsed.openssl) {
    throw new MissingToolError(
      `${socat} (version ${parsed.version}) was built without OpenSSL support, so it cannot ` +
        "encrypt the SST; install a socat package built with OpenSSL",
    );
  }
  const rv = await run(adapter, { cmd: rsync, args: ["--version"] }, { timeoutMs: 10_000 });
  const rsyncVersion = rv.stdout.match(/rsync\s+version\s+(\S+)/)?.[1] ?? "unknown";
  if (rv.code !== 0) {
    throw new MissingToolError(`${rsync} --version failed (exit ${rv.code}); reinstall rsync`);
  }
  return { socat, socatVersion: parsed.version, rsync, rsyncVersion };
}
