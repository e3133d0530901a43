/**
 * `check --listen`: answers `check --peer` from another node with exactly the joiner's TLS
 * listener ({@link startListener}: socat `OPENSSL-LISTEN`, `verify=1`, this node's `[sst]`
 * certificate, key and CAs, `sockopt`, bound where the joiner binds: the advertised address when
 * it is ours, on its port), but behind it runs only a responder that greets and reports (no
 * rsync, no datadir access). Reports each handshake in one line per direction, with the fix on
 * failure; each ERROR is printed once.
 *
 * @module
 */
import type { ProcessAdapter } from "../proc/process.ts";
import { stop } from "../proc/process.ts";
import { withDeadline } from "../proc/wait.ts";
import { type DefaultsFiles, loadOptions, settingsFrom } from "../config/settings.ts";
import { joinerPort, peerFacingNames } from "../config/peer_facing_names.ts";
import type { OptionLookup } from "../config/option_lookup.ts";
import { findTools } from "../proc/tools.ts";
import { checkTls, tlsOptionsOf } from "../tunnel/tls_setup.ts";
import { listenAddress, listenerExec, socatSafe } from "../tunnel/socat_address.ts";
import { classifySocatTlsError, describeTlsFailure } from "../tunnel/tls_failures.ts";
import { certificateNames } from "../tunnel/peer_probe.ts";
import { startListener, type TunnelListener } from "../tunnel/listener.ts";
import { isLocalAddress, lookupHost } from "../tunnel/resolve.ts";
import { BusyError, ExitCode, SstError, TimeoutError } from "../core/errors.ts";
import { type Host, hostText } from "../core/address.ts";
import { selfCommand } from "../proc/self.ts";
import * as log from "../core/log.ts";
import { describeSeen, RESPONDER_FLAG, type ResponderReport, RESULT_MARKER } from "./check_wire.ts";
import { describePortHolder } from "../tunnel/listen_check.ts";

/** Options of `check --listen`. */
export interface ListenOptions {
  /** The option files, as mariadbd would read them. */
  defaults: DefaultsFiles;
  /** Default: the joiner's (`wsrep_sst_receive_address`'s port, else 4444). */
  port?: number;
  /** Exit after the first check (success or failure). */
  once: boolean;
  /** Give up after this many seconds without a finished check; 0 = never. */
  timeoutSec: number;
}

/** Default seconds `check --listen` waits. */
export const DEFAULT_LISTEN_TIMEOUT = 300;

/** How the listening ended; `logged`: the error was printed when it happened. */
type Outcome = { ok: true } | { ok: false; error: SstError; logged: boolean };

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** Runs the listener; returns 0 when every check it served succeeded. */
export async function runCheckListen(o: ListenOptions, adapter: ProcessAdapter): Promise<number> {
  let listener: TunnelListener | undefined;
  const stopped = new AbortController();
  const handler = () => stopped.abort(new SstError(ExitCode.interrupted, "stopped"));
  for (const s of SIGNALS) Deno.addSignalListener(s, handler);
  try {
    const opts = await loadOptions(o.defaults);
    const settings = settingsFrom({ role: "joiner" }, opts, 1);
    const tools = await findTools(adapter);
    const checked = await checkTls(settings, "joiner", adapter);
    const port = o.port ?? joinerPort(opts);
    const bind = await joinerBind(opts, adapter);
    const watcher = new ListenWatch(
      port,
      o.once,
      `our certificate ${certificateNames(checked.leaf)}`,
    );
    const listen = listenAddress({
      port,
      bind,
      ipv6: bind?.kind === "ipv6",
      maxChildren: 4,
      tls: tlsOptionsOf(checked),
      sockopt: settings.sockopt,
      socatVersion: tools.socatVersion,
    });
    const responder = [...selfCommand(), RESPONDER_FLAG]
      .map((a) => socatSafe("responder command", a)).join(" ");
    const where = `${bind ? hostText(bind) : "*"}:${port}`;
    listener = await startListener(adapter, {
      socat: tools.socat,
      args: ["-d", "-d", listen, listenerExec(responder)],
      port,
      where,
      signal: stopped.signal,
      onSocatLine: (line) => watcher.line(line),
    });
    log.info(
      `check --listen: listening on port ${port} ${
        bind ? `of ${hostText(bind)}` : "of every address"
      }`,
    );
    const l = listener;
    // The end of socat's log without a verdict: socat's exit status and last error decide.
    void l.child.status.then(async (st) => {
      await l.stderrDone.catch(() => {});
      watcher.end(st.code);
    });
    const outcome = await withDeadline(watcher.settled, {
      ms: o.timeoutSec > 0 ? o.timeoutSec * 1000 : Infinity,
      signal: stopped.signal,
      onTimeout: (): Outcome => ({ ok: false, error: timeoutError(o, port), logged: false }),
    });
    if (outcome.ok) {
      log.info("check --listen: every check passed");
      return 0;
    }
    if (!outcome.logged) log.error(outcome.error.message);
    return outcome.error.exitCode;
  } catch (e) {
    if (!(e instanceof SstError)) throw e;
    log.error(e.message);
    return e.exitCode;
  } finally {
    SIGNALS.forEach((s) => Deno.removeSignalListener(s, handler));
    if (listener) await stop(listener.child, 1000);
  }
}

/** Where the joiner binds: the advertised address when it is one of ours, else everywhere. */
async function joinerBind(opts: OptionLookup, adapter: ProcessAdapter): Promise<Host | undefined> {
  const advertised = peerFacingNames(opts).find((n) => n.advertised);
  if (!advertised) return undefined;
  const host = advertised.host;
  if (host.kind !== "name") return isLocalAddress(host.address) ? host : undefined;
  const ip = (await lookupHost(adapter, host.name)).find(isLocalAddress);
  if (ip === undefined) return undefined;
  return ip.includes(":") ? { kind: "ipv6", address: ip } : { kind: "ipv4", address: ip };
}

function timeoutError(o: ListenOptions, port: number): SstError {
  return new TimeoutError(
    `check --listen: no check finished within --timeout ${o.timeoutSec} s; run ` +
      `'wsrep_sst_rsync_tunnel check --peer <this host>:${port}' on the other node ` +
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
    `check --listen: socat exited (status ${code})${last ? `: ${last}` : ""}`,
  );
}

/**
 * Reads socat's log line by line: one line per direction for each connection; settles when a
 * check finished (the client's `BYE`, or a failed handshake) and `--once` is set, or when the
 * log ends (with the first failure, else socat's exit status and last error).
 */
class ListenWatch {
  private peer = "?";
  private failed: SstError | null = null;
  private lastError = "";
  private readonly deferred = Promise.withResolvers<Outcome>();
  /** Settles once with the outcome. */
  readonly settled: Promise<Outcome> = this.deferred.promise;

  constructor(
    private readonly port: number,
    private readonly once: boolean,
    private readonly ours: string,
  ) {}

  /** One line of socat's stderr; true when it is reported here (not relayed as socat's). */
  line(line: string): boolean {
    const accepted = line.match(/accepting connection from AF=\d+ (\S+)/);
    if (accepted) this.peer = accepted[1];
    if (line.startsWith(RESULT_MARKER)) {
      const r = JSON.parse(line.slice(RESULT_MARKER.length)) as ResponderReport;
      const end = this.report(r);
      if (end !== undefined) this.finished(end);
      return true;
    }
    if (!/ [EF] /.test(line)) return false;
    this.lastError = line.replace(/^.* [EF] /, "");
    const f = classifySocatTlsError(line);
    if (!f) return false;
    const who = `donor ${this.peer}`;
    const text = describeTlsFailure(f, who);
    this.finished(
      new SstError(
        f.kind === "not-tls" ? ExitCode.protocol : ExitCode.peerRejected,
        f.origin === "remote"
          ? `check --listen: FAIL our certificate, as ${who} verified it: ${text}`
          : `check --listen: FAIL certificate of ${who}: ${text}`,
      ),
    );
    return true; // told in our own words, once
  }

  /** socat's log ended; `code`: its exit status. */
  end(code: number): void {
    this.deferred.resolve(
      this.failed
        ? { ok: false, error: this.failed, logged: true }
        : { ok: false, error: socatEnded(code, this.port, this.lastError), logged: false },
    );
  }

  /** A check finished: ok (null) or failed (logged here, once). */
  private finished(error: SstError | null): void {
    if (error) {
      log.error(error.message);
      this.failed ??= error;
    }
    if (!this.once) return;
    this.deferred.resolve(
      this.failed ? { ok: false, error: this.failed, logged: true } : { ok: true },
    );
  }

  /** Logs one connection: undefined for a probe (the check goes on), null when it passed. */
  private report(r: ResponderReport): SstError | null | undefined {
    const who = `donor ${r.seen.peer}`;
    // The donor's probe hangs up after the greeting (older versions said NEXT).
    if (r.said === "" || r.said === "NEXT") {
      log.info(
        `check --listen: probe from ${who} (${describeSeen(r.seen)}) passed; waiting for its check`,
      );
      return undefined;
    }
    log.info(
      `check --listen: OK certificate of ${who}: ${describeSeen(r.seen)}; chain verified ` +
        "against our [sst] tca/tcapath (a joiner checks no name)",
    );
    if (r.said.startsWith("BYE ok")) {
      log.info(
        `check --listen: OK our certificate, as ${who} verified it: it accepted ${this.ours} and ` +
          "checked its name",
      );
      return null;
    }
    const reason = r.said.startsWith("BYE fail")
      ? r.said.slice("BYE fail".length).trim()
      : "the client said something else (it is not wsrep_sst_rsync_tunnel check --peer?)";
    return new SstError(
      ExitCode.peerRejected,
      `check --listen: FAIL our certificate, as ${who} verified it: it rejected ${this.ours}: ` +
        reason,
    );
  }
}
