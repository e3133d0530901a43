/**
 * The donor's setup, steps 1 and 2 of donor.ts (docs/sst-protocol.md §3), before its first
 * protocol line: the joiner's address parsed, the per-SST secret taken, our server's version
 * judged against the joiner's, the TLS material checked, the name the joiner's certificate
 * must carry chosen, the tunnel opened (a pair that cannot work is refused through it), and,
 * for a full SST, the compression checked against the local rsync. It hands `runDonor` these
 * values checked ({@link DonorStart}); `runDonor` writes the protocol.
 *
 * @module
 */
import type { SstContext } from "./context.ts";
import {
  checkDonorPath,
  type Endpoint,
  hostForAddress,
  joinerServerVersion,
  parseEndpoint,
} from "../core/address.ts";
import { donorSecret } from "./donor_credentials.ts";
import { ConfigError, ExitCode, SstError } from "../core/errors.ts";
import {
  type Compatibility,
  compatibility,
  describePair,
  recordVersion,
  type ServerVersion,
} from "../core/server_version.ts";
import { candidatePids, serverVersion } from "../proc/server_process.ts";
import * as log from "../core/log.ts";
import { addSecret } from "../core/log.ts";
import { makePrivateDir, type PrivateDir, privateDirError } from "./private_dir.ts";
import { checkTls, describeSslMode, tlsOptionsOf, verificationOff } from "../tunnel/tls_setup.ts";
import {
  connectAddress,
  disablesVerification,
  SOCAT_TRANSFER_BUFFER,
  type TlsOptions,
} from "../tunnel/socat_address.ts";
import {
  certificateNames,
  choosePeerName,
  fetchPeerCertificate,
  identityOf,
  peerNameCandidates,
} from "../tunnel/peer_probe.ts";
import { rshSetup } from "../tunnel/rsh_command.ts";
import type { Tunnel } from "../transfer/rsync_runner.ts";
import { runPass } from "../transfer/pass.ts";
import { COMPLETION_FILE, type RefusalRecord, renderRefusal } from "../transfer/completion.ts";
import { parseCompressList, type WireSettings } from "../config/wire_options.ts";
import type { Settings } from "../config/settings.ts";
import type { ProgramName } from "../core/program_name.ts";
import { run } from "../proc/process.ts";

/** What the donor's protocol steps start from: every value here checked by {@link startDonor}. */
export interface DonorStart {
  /** The joiner's address from the SST request. */
  joiner: Endpoint;
  /** The per-SST secret (registered for redaction). */
  secret: string;
  pair: ServerPair;
  /** The tunnel every rsync runs through; the private directory beside it. */
  tunnel: Tunnel;
  dir: PrivateDir;
  /** What the copy is planned from (the layout, precopy, delta, clone, space keys). */
  settings: Settings;
  /** The name mariadbd ran us by (`[sst] delta=auto` reads it). */
  programName: ProgramName;
}

/**
 * Steps 1 and 2 of the donor: the request, the pair of servers, TLS and the tunnel, in this
 * order; a pair that cannot work is refused through the tunnel (throws). Ends with the INFO
 * line that the SST started, then (full SST) the compression check.
 */
export async function startDonor(ctx: SstContext): Promise<DonorStart> {
  const joiner = parseEndpoint(ctx.args.address);
  checkDonorPath(joiner, ctx.args.address);
  // 10.x: in the environment; 11.8: on stdin (read first: mariadbd wrote it at our start).
  const secret = await donorSecret(ctx.env("WSREP_SST_OPT_REMOTE_AUTH"), ctx.stdin, {
    signal: ctx.stopper.signal,
  });
  addSecret(secret);
  const pair = await checkServerVersions(ctx, joiner);
  const opening = openTunnel(ctx, joiner, secret);
  if (pair.verdict.kind === "refuse") await refusePair(opening, secret, pair);
  const { tunnel, dir, peerName } = await opening;
  log.info(
    `rsync_tunnel SST started on donor: to ${tunnel.peer} (` +
      (peerName === null
        ? "certificate name not checked: ssl-mode=VERIFY_CA"
        : `certificate name must be '${peerName}'`) +
      `)${ctx.args.bypass ? ", IST: only the completion record" : ""}`,
  );
  if (!ctx.args.bypass) await checkWire(ctx, ctx.settings.wire);
  const { settings, programName } = ctx;
  return { joiner, secret, pair, tunnel, dir, settings, programName };
}

/** Both servers' versions and the verdict on the pair. */
export interface ServerPair {
  donor: ServerVersion | null;
  joiner: ServerVersion | null;
  verdict: Compatibility;
}

/**
 * Our server's version (from the mariadbd above us) against the one the joiner advertised:
 * one INFO line with both, one WARNING line for a newer donor than joiner. Before anything
 * is flushed or copied, so that a pair that cannot work is refused with nothing touched.
 */
async function checkServerVersions(ctx: SstContext, joiner: Endpoint): Promise<ServerPair> {
  const ours = await serverVersion(ctx.adapter, candidatePids(undefined));
  const theirs = joinerServerVersion(joiner);
  if (!ours.version) log.info(`this server's version is not known: ${ours.source}`);
  const verdict = compatibility(ours.version, theirs);
  log.info(describePair(ours.version, theirs, verdict));
  if (verdict.kind === "warn") log.warn(verdict.message);
  return { donor: ours.version, joiner: theirs, verdict };
}

/**
 * Refuses a pair of servers that cannot work together: sends the refusal record where the
 * completion record would go (through the verified tunnel being opened, with the per-SST
 * secret), so that the joiner fails with our reason, and throws it, told or not.
 */
async function refusePair(
  opening: Promise<OpenTunnel>,
  secret: string,
  pair: ServerPair,
): Promise<never> {
  const reason = pair.verdict.kind === "refuse" ? pair.verdict.message : "";
  const told = async () => {
    const { tunnel, dir } = await opening;
    await sendRefusal(tunnel, dir, { secret, server: recordVersion(pair.donor), reason });
  };
  await told().catch(notTold);
  throw new SstError(ExitCode.unsupportedPair, reason);
}

/** Sends `refusal` where the completion record would go, through an open tunnel. */
export async function sendRefusal(
  tunnel: Tunnel,
  dir: PrivateDir,
  refusal: RefusalRecord,
): Promise<void> {
  const file = await dir.write(COMPLETION_FILE, renderRefusal(refusal));
  await runPass({ kind: "refusal", file }, tunnel, {});
  log.info(`told the joiner ${tunnel.peer} that this SST is refused`);
}

/** The refusal stays the cause when the joiner could not be told about it. */
export function notTold(e: unknown): void {
  log.warn(
    `could not tell the joiner why this SST is refused (${
      e instanceof Error ? e.message : String(e)
    }); its log will only show that the SST failed`,
  );
}

/** The tunnel to the joiner, the private directory beside it, the joiner's certificate name. */
interface OpenTunnel {
  tunnel: Tunnel;
  dir: PrivateDir;
  /** null: `ssl-mode=VERIFY_CA`, no name checked. */
  peerName: string | null;
}

/**
 * Checks the TLS material, decides which name the joiner's certificate must carry (one
 * verified handshake), and prepares the per-connection socat client rsync runs.
 */
async function openTunnel(
  ctx: SstContext,
  joiner: Endpoint,
  secret: string,
): Promise<OpenTunnel> {
  const tls = tlsOptionsOf(await checkTls(ctx.settings, "donor", ctx.adapter));
  const peerName = await joinerCertificateName(ctx, joiner, tls);
  const dir = await makePrivateDir(
    ctx.settings.tmpdir,
    ctx.scope,
    ctx.settings.layout.datadir,
  );
  const tunnel = await prepareTunnel(ctx, dir, joiner, { tls, peerName, secret });
  return { tunnel, dir, peerName };
}

/**
 * The donor's end of the tunnel: the socat TLS client rsync runs for each connection (its
 * `--rsh`), and the 0600 password file with the per-SST secret.
 */
async function prepareTunnel(
  ctx: SstContext,
  dir: PrivateDir,
  joiner: Endpoint,
  t: { tls: TlsOptions; peerName: string | null; secret: string },
): Promise<Tunnel> {
  const s = ctx.settings;
  const peer = `${hostForAddress(joiner.host)}:${joiner.port}`;
  const statusDir = `${dir.path}/status`;
  await Deno.mkdir(statusDir, { mode: 0o700 }).catch((e) => {
    throw privateDirError(dir.path, { doing: "create", path: statusDir }, e);
  });
  const connect = connectAddress({
    host: joiner.host,
    port: joiner.port,
    peerName: t.peerName,
    connectTimeoutSec: s.timeouts.connect,
    tls: t.tls,
    sockopt: s.sockopt,
  });
  // -t 0: once either side has closed, the rsync session is over; don't wait for the other
  // direction (rsync waits for its remote shell to exit, so every second here is per
  // connection). socat's inactivity limit sits above rsync's own, so rsync reports an idle
  // peer (exit 30).
  const socatArgs = [
    ...SOCAT_TRANSFER_BUFFER,
    "-t",
    "0",
    "-T",
    String(s.timeouts.idle + 5),
    "STDIO",
    connect,
  ];
  log.info(
    `tunnel: rsync --rsh runs, for each connection, ${ctx.tools.socat} -lf ` +
      `${statusDir}/socat-<its pid>.log ${socatArgs.join(" ")}`,
  );
  return {
    adapter: ctx.adapter,
    rsync: ctx.tools.rsync,
    rsh: rshSetup({ socat: ctx.tools.socat, args: socatArgs, logDir: statusDir }),
    passwordFile: await dir.write("rsync.password", t.secret + "\n"),
    idleTimeoutSec: s.timeouts.idle,
    statusDir,
    peer,
    wire: s.wire,
    streams: s.backupThreads,
    stop: ctx.stopper,
    recordGroup: (pgid) => ctx.lock.recordGroup(pgid),
    relayed: new Set(),
  };
}

/**
 * The name the joiner's certificate must carry: the host name as addressed, or for an IP the IP
 * itself, or the system resolver's name for it when that name resolves back to the IP —
 * whichever the certificate (fetched by one verified handshake) is issued for. socat then enforces that name on every connection.
 * null with `ssl-mode=VERIFY_CA`: the probe verified the chain (both ways), no name is checked.
 */
async function joinerCertificateName(
  ctx: SstContext,
  joiner: Endpoint,
  tls: TlsOptions,
): Promise<string | null> {
  const host = joiner.host;
  const candidates = await peerNameCandidates(ctx.adapter, host);
  const peer = `${hostForAddress(host)}:${joiner.port}`;
  if (verificationOff(ctx.settings)) {
    const why = disablesVerification(ctx.settings.sockopt)
      ? "[sst] sockopt"
      : describeSslMode(ctx.settings);
    log.warn(`certificate verification is off (${why}); not checking joiner ${peer}`);
    return candidates[0];
  }
  const leaf = await fetchPeerCertificate(ctx.adapter, {
    target: hostForAddress(host),
    port: joiner.port,
    tls,
    timeoutSec: ctx.settings.timeouts.connect,
    peer,
    signal: ctx.stopper.signal,
  });
  if (ctx.settings.tls.mode === "VERIFY_CA") {
    log.info(
      `joiner ${peer} presents ${certificateNames(leaf)}; chain verified, name not checked ` +
        `(${describeSslMode(ctx.settings)})`,
    );
    return null;
  }
  const chosen = choosePeerName(leaf, candidates, peer);
  log.info(
    `joiner ${peer} presents ${certificateNames(leaf)}; checking name '${chosen}' ` +
      `(${identityOf(chosen, host)})`,
  );
  return chosen;
}

/** Fails with the key's name when the local rsync cannot use the configured compression. */
async function checkWire(ctx: SstContext, wire: WireSettings): Promise<WireSettings> {
  if (!wire.compress) return wire;
  const r = await run(ctx.adapter, { cmd: ctx.tools.rsync, args: ["--version"] }, {
    timeoutMs: 10_000,
    signal: ctx.stopper.signal,
  });
  const list = parseCompressList(r.stdout);
  if (!list?.includes(wire.compress)) {
    throw new ConfigError(
      `[sst] compress=${wire.compress}: ${ctx.tools.rsync} (version ${ctx.tools.rsyncVersion}) ` +
        `${
          list ? `only offers ${list.join(", ")}` : "has no --compress-choice (needs rsync 3.2+)"
        }; ` +
        "choose one it lists on both nodes, or remove the key",
    );
  }
  return wire;
}
