/**
 * `wsrep_sst_rsync_tunnel --version`: our version on the first line, then the socat, rsync
 * and openssl this node would use (found through PATH exactly as an SST finds them), or what
 * is missing, then the method the name we were run by stands for and what `[sst] delta=auto`
 * means for it. Never fails: a missing tool is reported, not thrown.
 *
 * @module
 */
import { type ProcessAdapter, run, which } from "../proc/process.ts";
import { parseSocatVersion } from "../proc/tools.ts";
import { VERSION } from "../core/version.ts";
import { MAIN_NAME, methodOf, type ProgramName } from "../core/program_name.ts";
import { chooseDelta } from "../config/delta.ts";

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

/** The `--version` text: one line for us, one per tool, one for the method of `name`. */
export async function versionReport(
  adapter: ProcessAdapter,
  name: ProgramName = MAIN_NAME,
): Promise<string> {
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
  lines.push(methodLine(name));
  return lines.join("\n");
}

/** What the name we were run by means: its method and what `[sst] delta=auto` makes of it. */
export function methodLine(name: ProgramName): string {
  const delta = chooseDelta("auto", name).on
    ? "delta transfer against the joiner's files"
    : "delta transfer when the joiner holds an earlier copy, whole files otherwise";
  return `run as ${name} (wsrep_sst_method=${methodOf(name)}): [sst] delta=auto means ${delta}`;
}
