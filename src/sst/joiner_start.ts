/**
 * The joiner's setup, steps 1 to 4 of joiner.ts (docs/sst-protocol.md §4) up to its first
 * protocol line: the TLS material checked, where to listen decided, our server's version read,
 * the private directory with the rsync daemon's configuration and the per-SST secret, socat's
 * TLS listener started, and what this node holds published. It hands `runJoiner` these values
 * ({@link JoinerStart}); `runJoiner` writes the protocol.
 *
 * @module
 */
import type { SstContext } from "./context.ts";
import { cloneParts } from "../transfer/clone_pass.ts";
import { sweepStaleSnapshots } from "../transfer/snapshot_dir.ts";
import {
  type Endpoint,
  type Host,
  hostText,
  type JoinerCopy,
  parseEndpoint,
} from "../core/address.ts";
import * as log from "../core/log.ts";
import { makePrivateDir, privateDirError } from "./private_dir.ts";
import { type ProcessAdapter, stop } from "../proc/process.ts";
import { checkTls, tlsOptionsOf } from "../tunnel/tls_setup.ts";
import type { CheckedTls } from "../tunnel/certificates.ts";
import { certificateMatchesHost } from "../tunnel/host_names.ts";
import { listenAddress, rsyncServerExec, SOCAT_TRANSFER_BUFFER } from "../tunnel/socat_address.ts";
import { startListener, type TunnelListener } from "../tunnel/listener.ts";
import { donorNamesEnv, gatedRsyncServerExec } from "../tunnel/donor_gate.ts";
import { donorNameText } from "../config/donor_names.ts";
import type { Settings } from "../config/settings.ts";
import { isLocalAddress, lookupHost } from "../tunnel/resolve.ts";
import { renderRsyncdConf, renderSecrets } from "../transfer/rsyncd_config.ts";
import { COMPLETION_FILE } from "../transfer/completion.ts";
import { describeVersion, type ServerVersion } from "../core/server_version.ts";
import { candidatePids, serverVersion } from "../proc/server_process.ts";
import { newSecret } from "./secret.ts";
import { PHASE_FILE } from "../transfer/phase_notice.ts";
import { markSstInProgress, prepareDirectories, warnLinkedDirs } from "./datadir.ts";
import { datadirDaemonExcludes } from "../transfer/layout_files.ts";
import { publishHoldings } from "./joiner_holdings.ts";

/** What the joiner's protocol steps start from, made by {@link startJoiner}. */
export interface JoinerStart {
  /** The address of the SST request: where donors are told to connect. */
  endpoint: Endpoint;
  /** The per-SST secret (registered for redaction). */
  secret: string;
  /** Our server's version, or null when it is not known. */
  server: ServerVersion | null;
  ws: Workspace;
  listener: TunnelListener;
  /** What this node holds, told to the donor in `ready`. */
  copy: JoinerCopy;
  /** What the steps after `ready` read (the layout, the timeouts). */
  settings: Settings;
}

/**
 * Steps 1 to 4 of the joiner up to its `ready` line, in this order: TLS and where to listen,
 * our server's version, the private directory and the daemon's configuration, the TLS
 * listener, the stale snapshot directories removed and what this node holds published.
 */
export async function startJoiner(ctx: SstContext): Promise<JoinerStart> {
  // 1. TLS and where to listen.
  const endpoint = parseEndpoint(ctx.args.address);
  const tls = await checkTls(ctx.settings, "joiner", ctx.adapter);
  if (tls.mode === "VERIFY_IDENTITY") warnIfNotOurName(tls, endpoint.host);
  logDonorPinning(ctx.settings);
  const bind = await chooseBindAddress(ctx.adapter, endpoint.host);
  const where = `${bind ? hostText(bind) : "*"}:${endpoint.port}`;
  log.info(`rsync_tunnel SST started on joiner; listening on ${where}`);
  const server = await serverVersion(ctx.adapter, candidatePids(ctx.args.parent));
  log.info(
    server.version
      ? `this server is ${describeVersion(server.version)} (${server.source}); told to the donor`
      : `this server's version is not known (${server.source}); the donor cannot check ` +
        "that it can serve this node",
  );
  // 2. The private directory, the daemon's configuration, the per-SST secret.
  const secret = newSecret();
  const ws = await prepareWorkspace(ctx, secret);
  // 3. The TLS listener.
  const ipv6 = (bind ?? endpoint.host).kind === "ipv6";
  const listener = await startTunnel(
    ctx,
    { port: endpoint.port, bind, ipv6, where },
    tls,
    ws.config,
  );
  // 4. What this node holds (the donor's delta and space decisions). Snapshot directories
  // this node left as a donor that was killed hold space: removed first.
  await sweepStaleSnapshots(cloneParts(ctx.settings.layout).map((p) => p.dir));
  const copy = await publishHoldings(ctx, ws.spaceDir, ws.binlogDir);
  const settings = ctx.settings;
  return { endpoint, secret, server: server.version, ws, listener, copy, settings };
}

/** The files one joiner run uses. */
export interface Workspace {
  /** rsyncd.conf in the private directory. */
  config: string;
  rsyncdLog: string;
  completionFile: string;
  /** Where the donor's phase notice lands (phase_notice.ts), beside the completion record. */
  noticeFile: string;
  /** Staging directory for binary logs, or null without binary logging. */
  binlogStaging: string | null;
  /** Where binary logs arrive: the staging directory, or an empty private one. */
  binlogDir: string;
  /** Private directory of the space report (transfer/joiner_space.ts). */
  spaceDir: string;
}

/**
 * Private 0700 directory with the daemon configuration and secret, the `sst_in_progress`
 * marker, the server's directories, and where the completion record will land.
 */
async function prepareWorkspace(ctx: SstContext, secret: string): Promise<Workspace> {
  const dir = await makePrivateDir(
    ctx.settings.tmpdir,
    ctx.scope,
    ctx.settings.layout.datadir,
  );
  await markSstInProgress(ctx.settings.layout.datadir, ctx.scope);
  await warnLinkedDirs(ctx.settings.layout);
  const binlogStaging = await prepareDirectories(ctx.settings.layout, ctx.scope);
  const completionDir = `${dir.path}/complete`;
  const privateMkdir = (d: string) =>
    Deno.mkdir(d, { mode: 0o700 }).catch((e) => {
      throw privateDirError(dir.path, { doing: "create", path: d }, e);
    });
  await privateMkdir(completionDir);
  const spaceDir = `${dir.path}/space`;
  await privateMkdir(spaceDir);
  // Without binary logging the binlog module points at an empty private directory.
  const binlogDir = binlogStaging ?? `${dir.path}/no-binlogs`;
  if (!binlogStaging) await privateMkdir(binlogDir);
  const rsyncdLog = await dir.write("rsyncd.log", ""); // 0600 before rsync opens it
  const secrets = await dir.write("rsyncd.secrets", renderSecrets(secret));
  const datadirExcludeFile = await dir.write(
    "datadir.exclude",
    datadirDaemonExcludes(ctx.settings.layout),
  );
  const config = await dir.write(
    "rsyncd.conf",
    renderRsyncdConf(
      {
        layout: ctx.settings.layout,
        binlogStaging: binlogDir,
        completionDir,
        spaceDir,
        datadirExcludeFile,
      },
      secrets,
      rsyncdLog,
      ctx.settings.timeouts.idle,
    ),
  );
  return {
    config,
    rsyncdLog,
    completionFile: `${completionDir}/${COMPLETION_FILE}`,
    noticeFile: `${completionDir}/${PHASE_FILE}`,
    binlogStaging,
    binlogDir,
    spaceDir,
  };
}

/** Starts socat's TLS listener (its own process group, recorded in the lock, stopped at exit). */
async function startTunnel(
  ctx: SstContext,
  on: { port: number; bind?: Host; ipv6: boolean; where: string },
  tls: CheckedTls,
  config: string,
): Promise<TunnelListener> {
  const { port, bind, ipv6, where } = on;
  const s = ctx.settings;
  const listen = listenAddress({
    port,
    bind,
    ipv6,
    maxChildren: Math.max(16, s.backupThreads * 2),
    tls: tlsOptionsOf(tls),
    sockopt: s.sockopt,
    socatVersion: ctx.tools.socatVersion,
  });
  const listener = await startListener(ctx.adapter, {
    socat: ctx.tools.socat,
    args: [
      "-d",
      "-d",
      ...SOCAT_TRANSFER_BUFFER,
      "-T",
      String(s.timeouts.idle + 5), // above rsync's own idle timeout
      listen,
      s.donorNames
        ? gatedRsyncServerExec(ctx.tools.rsync, config)
        : rsyncServerExec(ctx.tools.rsync, config),
    ],
    port,
    where,
    env: s.donorNames ? donorNamesEnv(s.donorNames) : undefined,
    signal: ctx.stopper.signal,
  });
  ctx.lock.recordGroup(listener.child.pid);
  ctx.scope.defer("stop TLS listener", () => stop(listener.child));
  return listener;
}

/**
 * Says which donors are accepted, and warns (once per SST) when the per-SST secret crosses
 * Galera's group channel in plaintext: then the secret protects only against those who cannot
 * read Galera traffic, and `donor-names` is what keeps other certificates of the CA out.
 */
function logDonorPinning(s: SstContext["settings"]): void {
  if (s.donorNames) {
    log.info(
      `donor connections are accepted only from certificates issued for one of: ` +
        `${s.donorNames.map(donorNameText).join(", ")} ([sst] donor-names)`,
    );
  }
  if (s.galeraTls.kind === "on") return;
  log.warn(
    `Galera's group channel is not encrypted (${s.galeraTls.why}): the per-SST secret crosses ` +
      "it in plaintext, so whoever can read Galera traffic and holds a certificate of the CA " +
      'could send this node a datadir. Encrypt it with wsrep_provider_options="socket.ssl_cert=' +
      '…;socket.ssl_key=…;socket.ssl_ca=…" on every node' +
      (s.donorNames ? "" : ", and set [sst] donor-names to the donors' certificate names"),
  );
}

/** The donor will check our certificate for the address's host: say so early if it won't match. */
function warnIfNotOurName(tls: CheckedTls, host: Host): void {
  const name = hostText(host);
  if (host.kind === "name" && !certificateMatchesHost(tls.leaf, name)) {
    log.warn(
      `our certificate ${tls.certFile} (${tls.leaf.subject}) is not issued for '${name}', the ` +
        "host donors are told to reach; they will refuse it unless it carries that name",
    );
  }
}

/** Listen on the address if it is ours; all interfaces otherwise (NAT), as stock does. */
async function chooseBindAddress(adapter: ProcessAdapter, host: Host): Promise<Host | undefined> {
  if (host.kind !== "name") {
    if (isLocalAddress(host.address)) return host;
  } else {
    for (const ip of await lookupHost(adapter, host.name)) {
      if (isLocalAddress(ip)) {
        return ip.includes(":") ? { kind: "ipv6", address: ip } : { kind: "ipv4", address: ip };
      }
    }
  }
  log.warn(
    `SST address ${hostText(host)} is not an address of this host; listening on all interfaces`,
  );
  return undefined;
}
