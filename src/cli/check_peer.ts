/**
 * `check --peer <host>[:port]`: before any SST, one mutual-TLS check against
 * `check --listen` on another node, made exactly as this node would act as donor: the donor's
 * own probe ({@link probePeer}) and name choice ({@link choosePeerName}), then the same socat
 * connection (`verify=1`, `commonname=<chosen name>`, our `sockopt`). Reports each direction
 * (their certificate as we verified it; ours as they verified it) in one line, with the fix on
 * failure. When the name does not match, the socat connection checks the chain only and tells
 * the listener why we refuse its certificate (`BYE fail <reason>`).
 *
 * @module
 */
import { type Child, type ProcessAdapter, sleep, stop } from "../proc/process.ts";
import { withDeadline } from "../proc/wait.ts";
import { parseEndpoint } from "../core/address.ts";
import { type DefaultsFiles, loadSettings } from "../config/settings.ts";
import { findTools } from "../proc/tools.ts";
import { checkTls, tlsOptionsOf } from "../tunnel/tls_setup.ts";
import { connectAddress, type TlsOptions } from "../tunnel/socat_address.ts";
import {
  certificateNames,
  choosePeerName,
  peerNameCandidates,
  probePeer,
  RSYNC_GREETING,
} from "../tunnel/peer_probe.ts";
import { classifyConnectionFailure, connectionError } from "../tunnel/connection_failures.ts";
import { oneLine } from "../tunnel/tls_failures.ts";
import { ConfigError, ExitCode, SstError, TimeoutError } from "../core/errors.ts";
import { hostForAddress } from "../core/address.ts";
import * as log from "../core/log.ts";
import {
  chainText,
  CHECK_GREETING,
  describeSeen,
  type Greeting,
  pemCertificates,
} from "./check_wire.ts";

/** Options of `check --peer`. */
export interface PeerOptions {
  /** The option files, as mariadbd would read them. */
  defaults: DefaultsFiles;
  /** `host[:port]`, port 4444 by default. */
  peer: string;
  /** Seconds per connection; default `[sst] tunnel-connect-timeout`. */
  timeoutSec?: number;
}

/** A running connection whose output we watch for a greeting. */
interface Session {
  child: Child;
  out: () => string;
  err: Promise<string>;
  greeting: Promise<Greeting | null>;
}

function open(adapter: ProcessAdapter, cmd: string, args: string[]): Session {
  const child = adapter.spawn({
    cmd,
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    group: true,
  });
  let out = "";
  const greeting = (async () => {
    for await (const chunk of child.stdout!.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      // s_client interleaves its own (buffered) session output with the data it receives, so
      // the greeting need not start a line; it arrives in one record and ends with a newline.
      const m = out.match(new RegExp(`${CHECK_GREETING} (\\{.*\\})\\r?\\n`));
      if (m) return JSON.parse(m[1]) as Greeting;
    }
    return null;
  })();
  return { child, out: () => out, err: new Response(child.stderr).text(), greeting };
}

async function say(s: Session, line: string): Promise<void> {
  const w = s.child.stdin!.getWriter();
  await w.write(new TextEncoder().encode(line + "\n")).catch(() => {});
  await sleep(200); // let the line cross before the connection closes
  await w.close().catch(() => {});
}

async function greeted(s: Session, timeoutSec: number, peer: string): Promise<Greeting | null> {
  const g = await withDeadline(s.greeting, { ms: timeoutSec * 1000, onTimeout: () => undefined });
  if (g === undefined) {
    await stop(s.child, 1000);
    throw noAnswer(peer, timeoutSec);
  }
  return g;
}

/** Runs the check; returns 0 or the exit code an SST would end with. */
export async function runCheckPeer(o: PeerOptions, adapter: ProcessAdapter): Promise<number> {
  try {
    return await check(o, adapter);
  } catch (e) {
    if (!(e instanceof SstError)) throw e;
    log.error(e.message);
    return e.exitCode;
  }
}

async function check(o: PeerOptions, adapter: ProcessAdapter): Promise<number> {
  const ep = parseEndpoint(o.peer);
  if (ep.path.length > 0) {
    throw new ConfigError(`check --peer '${o.peer}': give host[:port] only, without a path`);
  }
  const settings = await loadSettings({ role: "donor", defaults: o.defaults }, 1);
  const tools = await findTools(adapter);
  const checked = await checkTls(settings, "donor", adapter);
  const tls = tlsOptionsOf(checked);
  const timeoutSec = o.timeoutSec ?? settings.timeouts.connect;
  const target = hostForAddress(ep.host);
  const peer = `${target}:${ep.port}`;
  const who = `joiner ${peer}`;
  const candidates = await peerNameCandidates(adapter, ep.host);
  const ours = pemCertificates(await Deno.readTextFile(checked.certFile));
  const ourLine = `our certificate ${certificateNames(checked.leaf)} (chain ${chainText(ours)})`;

  // 1. The donor's probe: chain verified by s_client, certificate fetched.
  const probe = await probePeer(adapter, { target, port: ep.port, tls, timeoutSec, peer }, [
    CHECK_GREETING,
    RSYNC_GREETING,
  ]);
  if (probe.kind === "silent") throw noAnswer(who, timeoutSec);
  if (probe.kind === "failed") throw handshakeFailure(probe.output, who, ourLine);
  if (!probe.output.includes(CHECK_GREETING)) throw answersAsJoiner(who);
  const chain = probe.pems.map((p) => pemCertificates(p)[0]);
  let chosen: string | null = null;
  let refused: SstError | null = null;
  try {
    // ssl-mode=VERIFY_CA: the donor checks the chain only, so must this check.
    if (settings.tls.mode !== "VERIFY_CA") chosen = choosePeerName(probe.leaf, candidates, peer);
  } catch (e) {
    if (!(e instanceof SstError)) throw e;
    refused = e;
  }

  // 2. The donor's connection: socat verifies chain and name itself (the chain only when the
  // name was refused, to tell the listener why).
  const spec = { host: ep.host, port: ep.port, peerName: chosen, connectTimeoutSec: timeoutSec };
  const address = connectAddress({ ...spec, tls: tls as TlsOptions, sockopt: settings.sockopt });
  const conn = open(adapter, tools.socat, ["STDIO", address]);
  const g2 = await greeted(conn, timeoutSec, who);
  if (!g2) {
    await stop(conn.child, 1000);
    throw handshakeFailure(await conn.err, who, ourLine);
  }
  await say(conn, refused ? `BYE fail ${oneLine(refused.message)}` : "BYE ok");
  await stop(conn.child, 1000);
  if (refused) {
    log.info(`check --peer: OK our certificate, as ${who} verified it: it accepted ${ourLine}`);
    throw new SstError(
      refused.exitCode,
      `check --peer: FAIL certificate of ${who}: ${refused.message}`,
    );
  }
  log.info(
    `check --peer: OK certificate of ${who}: ${certificateNames(probe.leaf)}; chain ` +
      `${chainText(chain)} verified against our CA; ` +
      (chosen === null ? "name not checked (ssl-mode=VERIFY_CA)" : `name '${chosen}' checked`) +
      " as a donor checks it",
  );
  log.info(
    `check --peer: OK our certificate, as ${who} verified it: it accepted ${ourLine}; ` +
      `it saw ${describeSeen(g2.seen)}`,
  );
  log.info(`check --peer: ${peer} (wsrep_sst_rsync_tunnel ${g2.version} on ${g2.host}) OK`);
  return 0;
}

function noAnswer(who: string, timeoutSec: number): TimeoutError {
  return new TimeoutError(
    `check --peer: no answer from ${who} within ${timeoutSec} s; is 'wsrep_sst_rsync_tunnel ` +
      "check --listen' running there, and do routing and firewalls let us reach that port?",
  );
}

function answersAsJoiner(who: string): SstError {
  return new SstError(
    ExitCode.protocol,
    `check --peer: ${who} answers as an SST joiner, not as 'check --listen'; run the check ` +
      "when no SST is running there",
  );
}

/**
 * One error for a failed connection, with the exit code the donor of an SST would end with
 * (connection_failures.ts judges both); for a handshake, says which direction failed and logs
 * the other.
 */
function handshakeFailure(output: string, who: string, ourLine: string): SstError {
  if (output.includes(RSYNC_GREETING)) return answersAsJoiner(who);
  const f = classifyConnectionFailure(output);
  const e = connectionError(output, who.replace(/^joiner /, ""));
  if (f?.layer === "network") return new SstError(e.exitCode, `check --peer: FAIL ${e.message}`);
  if (f && f.failure.kind !== "not-tls" && f.failure.origin === "remote") {
    log.info(`check --peer: OK certificate of ${who}: its chain verified against our [sst] tca`);
    return new SstError(
      e.exitCode,
      `check --peer: FAIL our certificate, as ${who} verified it: it rejected ${ourLine}: ` +
        e.message,
    );
  }
  return new SstError(e.exitCode, `check --peer: FAIL certificate of ${who}: ${e.message}`);
}
