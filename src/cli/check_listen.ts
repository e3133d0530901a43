/**
 * `check --listen`: answers `check --peer` from another node with exactly the joiner's TLS
 * listener (socat `OPENSSL-LISTEN`, `verify=1`, this node's `[sst]` certificate, key and CAs,
 * `sockopt`), but behind it runs only a responder that greets and reports (no rsync, no
 * datadir access). Reports each handshake in one line per direction, with the fix on failure.
 *
 * @module
 */
import type { ProcessAdapter } from "../proc/process.ts";
import { stop } from "../proc/process.ts";
import { withDeadline } from "../proc/wait.ts";
import { parseSstArgs } from "../core/args.ts";
import { loadSettings } from "../config/settings.ts";
import { findTools } from "../proc/tools.ts";
import { checkTls, tlsOptionsOf } from "../tunnel/tls_setup.ts";
import { listenAddress, listenerExec, socatSafe } from "../tunnel/socat_address.ts";
import { classifySocatTlsError, describeTlsFailure } from "../tunnel/tls_failures.ts";
import { certificateNames } from "../tunnel/peer_probe.ts";
import { BusyError, ExitCode, SstError, TimeoutError } from "../core/errors.ts";
import { selfCommand } from "../proc/self.ts";
import * as log from "../core/log.ts";
import { describeSeen, RESPONDER_FLAG, type ResponderReport, RESULT_MARKER } from "./check_wire.ts";
import { type DefaultsArgs, sstArgv } from "./check_options.ts";
import { describePortHolder } from "../tunnel/listen_check.ts";

/** Options of `check --listen`. */
export interface ListenOptions extends DefaultsArgs {
  port: number;
  /** Exit after the first check (success or failure). */
  once: boolean;
  /** Give up after this many seconds without a finished check; 0 = never. */
  timeoutSec: number;
}

/** Default seconds `check --listen` waits. */
export const DEFAULT_LISTEN_TIMEOUT = 300;

type Outcome = { ok: true } | { ok: false; error: SstError };

/** Runs the listener; returns 0 when every check it served succeeded. */
export async function runCheckListen(o: ListenOptions, adapter: ProcessAdapter): Promise<number> {
  let child;
  try {
    const args = parseSstArgs(sstArgv("joiner", o));
    const settings = await loadSettings(args, 1);
    const tools = await findTools(adapter);
    const checked = await checkTls(settings, "joiner", adapter);
    const listen = listenAddress({
      port: o.port,
      ipv6: false,
      maxChildren: 4,
      tls: tlsOptionsOf(checked),
      sockopt: settings.sockopt,
      socatVersion: tools.socatVersion,
    });
    const responder = [...selfCommand(), RESPONDER_FLAG]
      .map((a) => socatSafe("responder command", a)).join(" ");
    child = adapter.spawn({
      cmd: tools.socat,
      args: ["-d", "-d", listen, listenerExec(responder)],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      group: true,
    });
    const ours = `our certificate ${certificateNames(checked.leaf)}`;
    const done = watch(child.stderr!, o, ours);
    const exited = child.status.then(async (st): Promise<Outcome> => {
      const tail = await done.catch(() => null);
      if (tail && !tail.ok) return tail;
      return { ok: false, error: socatEnded(st.code, o.port, lastError) };
    });
    // The end of socat's log without a verdict: socat's exit status and last error decide.
    const finished = done.then((r) => r ?? exited);
    const stopped = new AbortController();
    const handler = () => stopped.abort(new SstError(ExitCode.interrupted, "stopped"));
    for (const s of SIGNALS) Deno.addSignalListener(s, handler);
    const outcome = await withDeadline(finished, {
      ms: o.timeoutSec > 0 ? o.timeoutSec * 1000 : Infinity,
      signal: stopped.signal,
      onTimeout: (): Outcome => ({ ok: false, error: timeoutError(o) }),
    }).catch((e): Outcome => {
      if (e instanceof SstError) return { ok: false, error: e };
      throw e;
    }).finally(() => SIGNALS.forEach((s) => Deno.removeSignalListener(s, handler)));
    await stop(child, 1000);
    if (outcome.ok) {
      log.info("check --listen: every check passed");
      return 0;
    }
    log.error(outcome.error.message);
    return outcome.error.exitCode;
  } catch (e) {
    if (child) await stop(child, 1000);
    if (!(e instanceof SstError)) throw e;
    log.error(e.message);
    return e.exitCode;
  }
}

let lastError = "";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

function timeoutError(o: ListenOptions): SstError {
  return new TimeoutError(
    `check --listen: no check finished within --timeout ${o.timeoutSec} s; run ` +
      `'wsrep_sst_rsync_tunnel check --peer <this host>:${o.port}' on the other node ` +
      "(and check routing and firewalls between the nodes)",
  );
}

/**
 * Why socat ended. A busy port is told as the joiner tells it: the process holding it (read
 * from procfs), exit 16.
 */
function socatEnded(code: number, port: number, last: string): SstError {
  const holder = describePortHolder(port);
  if (holder || /Address already in use/i.test(last)) {
    return new BusyError(
      `check --listen: port ${port} is taken${holder ? ` by ${holder}` : ` (${last})`}; ` +
        "stop that process or use --port",
      ExitCode.busy,
    );
  }
  return new SstError(
    ExitCode.transfer,
    `check --listen: socat exited (status ${code}) ${last ? `: ${last}` : ""}`,
  );
}

/**
 * Reads socat's log: one line per direction for each connection, and resolves when a check
 * finished (the client's `BYE`, or a failed handshake) and `--once` is set, or on failure;
 * null when the log ends with no check failed (socat's exit then tells why).
 */
async function watch(
  stderr: ReadableStream<Uint8Array>,
  o: ListenOptions,
  ours: string,
): Promise<Outcome | null> {
  let peer = "?";
  let listening = false;
  let failed: SstError | null = null;
  let buffer = "";
  for await (const chunk of stderr.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const accepted = line.match(/accepting connection from AF=\d+ (\S+)/);
      if (accepted) peer = accepted[1];
      if (!listening && / N listening on /.test(line)) {
        listening = true;
        log.info(`check --listen: listening on port ${o.port}`);
      }
      if (line.startsWith(RESULT_MARKER)) {
        const r = JSON.parse(line.slice(RESULT_MARKER.length)) as ResponderReport;
        const end = onReport(r, ours);
        if (end === null) continue;
        if (!end.ok) failed = end.error;
        if (o.once) return failed ? { ok: false, error: failed } : { ok: true };
        continue;
      }
      if (/ [EF] /.test(line)) {
        lastError = line.replace(/^.* [EF] /, "");
        const f = classifySocatTlsError(line);
        if (!f) continue;
        const who = `donor ${peer}`;
        const text = describeTlsFailure(f, who);
        const error = new SstError(
          f.kind === "not-tls" ? ExitCode.protocol : ExitCode.peerRejected,
          f.origin === "remote"
            ? `check --listen: FAIL our certificate, as ${who} verified it: ${text}`
            : `check --listen: FAIL certificate of ${who}: ${text}`,
        );
        log.error(error.message);
        failed = error;
        if (o.once) return { ok: false, error };
      }
    }
  }
  return failed ? { ok: false, error: failed } : null;
}

/** Logs one connection; null when it was only a probe and the check goes on. */
function onReport(r: ResponderReport, ours: string): Outcome | null {
  const who = `donor ${r.seen.peer}`;
  if (r.said === "NEXT") {
    log.info(
      `check --listen: probe from ${who} (${describeSeen(r.seen)}) passed; waiting for its check`,
    );
    return null;
  }
  log.info(
    `check --listen: OK certificate of ${who}: ${describeSeen(r.seen)}; chain verified ` +
      "against our [sst] tca/tcapath (a joiner checks no name)",
  );
  if (r.said.startsWith("BYE ok")) {
    log.info(
      `check --listen: OK our certificate, as ${who} verified it: it accepted ${ours} and checked its name`,
    );
    return { ok: true };
  }
  const reason = r.said.startsWith("BYE fail")
    ? r.said.slice("BYE fail".length).trim()
    : "the client closed without a verdict (it is not wsrep_sst_rsync_tunnel check --peer?)";
  const error = new SstError(
    ExitCode.peerRejected,
    `check --listen: FAIL our certificate, as ${who} verified it: it rejected ${ours}: ${reason}`,
  );
  log.error(error.message);
  return { ok: false, error };
}
