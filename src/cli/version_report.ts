/**
 * `wsrep_sst_rsync_tunnel --version`: our version on the first line, then the socat, rsync
 * and openssl this node would use (found through PATH exactly as an SST finds them), or what
 * is missing. Never fails: a missing tool is reported, not thrown.
 *
 * @module
 */
import { type ProcessAdapter, run, which } from "../proc/process.ts";
import { parseSocatVersion } from "../proc/tools.ts";
import { VERSION } from "../core/version.ts";

async function firstOutput(
  adapter: ProcessAdapter,
  cmd: string,
  args: string[],
): Promise<string | null> {
  try {
    const r = await run(adapter, { cmd, args }, { timeoutMs: 10_000 });
    return r.code === 0 && !r.timedOut ? r.stdout : null;
  } catch {
    return null;
  }
}

/** The `--version` text: one line for us, one per tool. */
export async function versionReport(adapter: ProcessAdapter): Promise<string> {
  const lines = [`wsrep_sst_rsync_tunnel ${VERSION}`];
  const socat = which("socat");
  if (!socat) lines.push("socat: not found in PATH (required)");
  else {
    const out = await firstOutput(adapter, socat, ["-V"]);
    const v = out === null ? null : parseSocatVersion(out);
    lines.push(
      v === null
        ? `socat: ${socat} -V failed`
        : `socat ${v.version} (${socat}, ${
          v.openssl ? "with OpenSSL" : "WITHOUT OpenSSL: unusable"
        })`,
    );
  }
  const rsync = which("rsync");
  if (!rsync) lines.push("rsync: not found in PATH (required)");
  else {
    const out = await firstOutput(adapter, rsync, ["--version"]);
    const v = out?.match(/rsync\s+version\s+(\S+)/)?.[1];
    lines.push(v ? `rsync ${v} (${rsync})` : `rsync: ${rsync} --version failed`);
  }
  const openssl = which("openssl");
  if (!openssl) lines.push("openssl: not found in PATH (required)");
  else {
    const out = await firstOutput(adapter, openssl, ["version"]);
    const v = out?.match(/^OpenSSL\s+(\S+)/)?.[1];
    lines.push(v ? `openssl ${v} (${openssl})` : `openssl: ${openssl} version failed`);
  }
  return lines.join("\n");
}
