/**
 * Which `openssl` command line this node has, and the options that make `openssl verify` and
 * `openssl s_client` trust exactly the configured CA file/directory, never OpenSSL's defaults
 * (as socat does with `cafile=`/`capath=`).
 *
 * What differs between the releases our users run (observed with Debian 11's 1.1.1w and
 * Debian 12's 3.0.22 / Debian 13's 3.5.9; test/integration/openssl_111_test.ts):
 *
 * - 1.1.1 knows `-no-CAfile` and `-no-CApath` but not `-no-CAstore` (a 3.0 option): it stops
 *   with `verify: Use -help for summary.` (exit 1).
 * - Both add the default CA directory (`SSL_CERT_DIR`, `/usr/lib/ssl/certs`) when only
 *   `-CAfile` is given, and the default CA file (`SSL_CERT_FILE`) when only `-CApath` is
 *   given, unless `-no-CApath` / `-no-CAfile` say otherwise.
 * - 3.x also consults the default certificate store (`SSL_CERT_URI`, the same directory)
 *   unless `-no-CAstore` is given.
 * - Output formats the preflight parses are the same: `<subject>` then `error <n> at <depth>
 *   depth lookup: <reason>`, and s_client's `verify error:num=<n>:<reason>`.
 *
 * @module
 */
import { type ProcessAdapter, run } from "../proc/process.ts";
import { MissingToolError } from "../core/errors.ts";

/** What we need to know about the installed `openssl` command. */
export interface OpensslCli {
  /** As `openssl version` prints it, e.g. `OpenSSL 1.1.1w  11 Sep 2023`. */
  version: string;
  /** OpenSSL 3.0 or later: has certificate stores and the `-no-CAstore` option. */
  hasStores: boolean;
}

/** Parses `openssl version`; anything that is not OpenSSL ≥ 3 is treated as 1.1.1-like. */
export function parseOpensslVersion(text: string): OpensslCli {
  const version = text.trim().split("\n")[0]?.trim() || "unknown";
  const m = version.match(/^OpenSSL (\d+)\./);
  return { version, hasStores: m !== null && Number(m[1]) >= 3 };
}

const cache = new WeakMap<ProcessAdapter, Promise<OpensslCli>>();

/** Runs `openssl version` once per adapter (the result is cached). */
export function opensslCli(adapter: ProcessAdapter): Promise<OpensslCli> {
  let found = cache.get(adapter);
  if (!found) {
    found = detect(adapter);
    cache.set(adapter, found);
    found.catch(() => cache.delete(adapter));
  }
  return found;
}

async function detect(adapter: ProcessAdapter): Promise<OpensslCli> {
  let r;
  try {
    r = await run(adapter, { cmd: "openssl", args: ["version"] }, { timeoutMs: 10_000 });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new MissingToolError(
        "openssl is not installed (needed to check the certificates before the transfer); " +
          "install the openssl package",
      );
    }
    throw e;
  }
  if (r.code !== 0 || r.timedOut) {
    throw new MissingToolError(
      `'openssl version' failed (exit ${r.code}${r.timedOut ? ", timed out" : ""}: ` +
        `${r.stderr.trim().split("\n").at(-1) ?? ""}); reinstall the openssl package`,
    );
  }
  return parseOpensslVersion(r.stdout);
}

/**
 * Options of `verify` and `s_client` that trust exactly `caFile` and/or `caPath`: each given
 * one, `-no-CAfile`/`-no-CApath` for the other, and `-no-CAstore` where OpenSSL has stores.
 */
export function trustOnlyArgs(
  cli: OpensslCli,
  cas: { caFile?: string; caPath?: string },
): string[] {
  const args = cas.caFile ? ["-CAfile", cas.caFile] : ["-no-CAfile"];
  args.push(...(cas.caPath ? ["-CApath", cas.caPath] : ["-no-CApath"]));
  if (cli.hasStores) args.push("-no-CAstore");
  return args;
}
