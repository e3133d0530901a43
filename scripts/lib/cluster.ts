/**
 * A real MariaDB Galera cluster on loopback for end-to-end tests of SST methods.
 *
 * Every node has its own directory (datadir, option file, socket, pid file, error log, tmpdir)
 * under one temporary root, its own MySQL/Galera/IST/SST ports, and runs as
 * `mariadbd --defaults-file=<node.cnf> --user=mysql` in its own session, with a PATH whose
 * first entry is a caller-supplied directory (where the SST program's launcher lives).
 *
 * Every process the cluster starts carries an environment marker; {@link Cluster.teardown}
 * kills exactly those (by PID, also helpers that changed session or lost their parent) and
 * removes the temporary root. Every wait is bounded; failures throw {@link ClusterError}
 * naming the node and the step and quoting the node's error-log tail.
 *
 * Multi-host mode ({@link ClusterOptions.placement}): each node gets its own host name or address
 * (e.g. in its own network namespace), optionally the standard ports, a command prefix for
 * mariadbd and the client tools (e.g. `ip netns exec <ns>`) and its own environment.
 *
 * Set `E2E_KEEP=1` to keep the temporary root after teardown (its path is printed).
 *
 * @module
 */
import {
  type Child,
  denoAdapter,
  type ExitStatus,
  run,
  settlesWithin,
  sleep,
} from "../../src/proc/process.ts";
import { describe, findProcs, killMatching, type ProcInfo, readProc } from "./procfs.ts";
import { withTeardown } from "./teardown.ts";

/** The server binary. */
export const MARIADBD = "/usr/sbin/mariadbd";
/** The Galera 4 provider library. */
export const GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so";
/** The OS account mariadbd runs as. */
export const MYSQL_USER = "mysql";

const MARKER_CLUSTER = "E2E_GALERA_CLUSTER";
const MARKER_NODE = "E2E_GALERA_NODE";
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SYSTEM_SCHEMAS = ["mysql", "information_schema", "performance_schema", "sys"];

/** The server's version, read once from `mariadbd --version`. */
export interface ServerVersion {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

let cachedVersion: Promise<ServerVersion> | null = null;

/** Version of the installed mariadbd (the one a chroot provides, when run inside one). */
export function serverVersion(): Promise<ServerVersion> {
  cachedVersion ??= must("mariadbd --version", MARIADBD, ["--version"], 20_000).then((out) => {
    const m = out.match(/Ver (\d+)\.(\d+)\.(\d+)/);
    if (!m) throw new Error(`cannot read the server version from: ${out.trim()}`);
    return { major: +m[1], minor: +m[2], patch: +m[3], text: `${m[1]}.${m[2]}.${m[3]}` };
  });
  return cachedVersion;
}

/** True when `v` is at least `major.minor`. */
export function atLeast(v: ServerVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/**
 * Options that make MyISAM and Aria writes replicate, so checksums stay equal after a join:
 * `wsrep_mode` from 10.6, only `wsrep_replicate_myisam` (no Aria) before.
 */
function nonTransactionalReplication(v: ServerVersion): string[] {
  return atLeast(v, 10, 6)
    ? ["wsrep_mode=REPLICATE_MYISAM,REPLICATE_ARIA"]
    : ["wsrep_replicate_myisam=ON"];
}

/** Extra option-file content. */
export interface NodeExtra {
  /** Lines appended to the `[mysqld]` group (e.g. `"wsrep_debug=SERVER"`). */
  mysqld?: string[];
  /** Extra `wsrep_provider_options` entries of this node (`key=value`, e.g. `pc.weight=2`). */
  providerOptions?: string[];
  /** Further groups, e.g. `{ sst: ["tca=/x/ca.crt", "tcert=…", "tkey=…"] }`. */
  groups?: Record<string, string[]>;
}

/**
 * Where a node lives on the network and how its commands are run (multi-host mode); see
 * {@link ClusterOptions.placement}. Every field is optional; `{}` is the loopback default.
 */
export interface NodePlacement {
  /**
   * Host name or IPv4 address of the node, used for `bind_address`, `wsrep_node_address`,
   * `wsrep_node_incoming_address` and the other nodes' `wsrep_cluster_address` (and, unless
   * `standardPorts`, the Galera listen, IST and SST receive addresses). Default `127.0.0.1`.
   */
  host?: string;
  /**
   * Standard ports (SQL 3306, Galera 4567, IST 4568, SST 4444) with addresses written without
   * ports and no `gmcast.listen_addr`, `ist.recv_addr` or `wsrep_sst_receive_address`: mariadbd
   * and Galera derive them from `wsrep_node_address`, as on a real host. Only possible when
   * every node has its own network namespace. Default false (distinct picked free ports).
   */
  standardPorts?: boolean;
  /**
   * Command prefix for mariadbd, mariadb and mariadb-admin, e.g. `["ip", "netns", "exec",
   * "ns1"]`. It must exec the command (not fork), so the child's PID stays mariadbd's.
   */
  wrap?: string[];
  /** Extra environment of this node's mariadbd (merged over {@link ClusterOptions.env}). */
  env?: Record<string, string>;
  /**
   * The server version this node runs when it is not the installed one (a node whose `wrap`
   * runs another release's mariadbd, e.g. in a Debian root); its option file follows it.
   */
  version?: ServerVersion;
}

/** The standard ports of a MariaDB Galera node: SQL, Galera, IST, SST. */
export const STANDARD_PORTS = { sql: 3306, galera: 4567, ist: 4568, sst: 4444 } as const;

/** Options of {@link Cluster.create}. */
export interface ClusterOptions {
  /** Number of nodes (default 2). */
  size?: 2 | 3;
  /** `wsrep_sst_method` of every node, e.g. `"rsync"` or `"rsync_tunnel"`. */
  sstMethod: string;
  /**
   * Directory put first in mariadbd's PATH (followed by the system directories). Default: an
   * empty `bin/` directory under the cluster root.
   */
  pathPrefix?: string;
  /** Extra option-file content for every node. */
  extra?: NodeExtra;
  /**
   * Called once per node after its directories and ports exist and before its option file is
   * written; returns node-specific option-file content (merged after `extra`).
   */
  configure?: (node: Node, cluster: Cluster) => NodeExtra | Promise<NodeExtra>;
  /** Extra `wsrep_provider_options` entries (`key=value`). */
  providerOptions?: string[];
  /** Binary logging (`log_bin=mysql-bin`) on every node (default true). */
  binlog?: boolean;
  /** Extra environment for mariadbd (and so for the SST scripts). */
  env?: Record<string, string>;
  /**
   * Multi-host mode: the placement of each node (host, ports, command prefix, environment),
   * asked once per node before anything is created. Default: every node on 127.0.0.1.
   */
  placement?: (name: string, index: number) => NodePlacement;
}

/** How a node got its state at its last start. */
export type JoinType = "SST" | "IST" | "none";

/** Options of {@link Cluster.loadData}. */
export interface LoadOptions {
  /** Rows of the big InnoDB table (default 30000). */
  rows?: number;
}

/** A process started by mariadbd (or one of its descendants) that is still alive. */
export type NodeProcess = ProcInfo;

/** A failure of a fixture step. */
export class ClusterError extends Error {
  override name = "ClusterError";
  constructor(readonly node: string, readonly step: string, detail: string, logTail: string) {
    super(
      `${node}: ${step} failed: ${detail}` +
        (logTail ? `\n--- ${node} error log (tail) ---\n${logTail}\n--- end ---` : ""),
    );
  }
}

/** One node of the cluster. Paths are absolute; `datadir` has no trailing slash. */
export class Node {
  /** mariadbd of the current/last start. */
  child: Child | null = null;
  /** Byte offset of the error log when the current/last start began. */
  logOffset = 0;
  /** Number of starts so far. */
  starts = 0;
  /** @internal output pumps of the current child */
  pumps: Pump[] = [];

  constructor(
    /** 1-based index. */
    readonly index: number,
    /** `node<index>`, also `wsrep_node_name`. */
    readonly name: string,
    /** Node directory (owned by mysql). */
    readonly dir: string,
    readonly datadir: string,
    readonly tmpdir: string,
    readonly cnf: string,
    readonly socket: string,
    readonly pidFile: string,
    readonly errorLog: string,
    /** Captured stdout/stderr of mariadbd (normally empty: everything goes to the error log). */
    readonly consoleLog: string,
    /** SQL port. */
    readonly port: number,
    /** Galera group-communication port (`base_port`, `gmcast.listen_addr`). */
    readonly galeraPort: number,
    /** Galera IST receiver port (`ist.recv_addr`). */
    readonly istPort: number,
    /** SST receive port (`wsrep_sst_receive_address`). */
    readonly sstPort: number,
    /** Multi-host mode: where the node lives (default `{}`: 127.0.0.1, commands run directly). */
    readonly placement: NodePlacement = {},
  ) {}

  /** Host name or address of the node (`placement.host`, default `127.0.0.1`). */
  get host(): string {
    return this.placement.host ?? "127.0.0.1";
  }

  /** True while the current mariadbd has not exited. */
  get running(): boolean {
    return this.child !== null && !this.child.exited;
  }

  /** PID of the current/last mariadbd, or null if never started. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }
}

interface Pump {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  done: Promise<void>;
}

async function must(
  step: string,
  cmd: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<string> {
  const r = await run(denoAdapter, { cmd, args }, { timeoutMs });
  if (r.code !== 0 || r.timedOut) {
    throw new Error(
      `${step}: ${cmd} ${args.join(" ")} ${
        r.timedOut ? `timed out after ${timeoutMs} ms` : `exited ${r.code}`
      }\n${r.stderr}${r.stdout}`,
    );
  }
  return r.stdout;
}

/** chown -R to the mysql user (argv, no shell). */
export async function chownMysql(...paths: string[]): Promise<void> {
  await must("chown", "chown", ["-R", `${MYSQL_USER}:${MYSQL_USER}`, ...paths]);
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

function portIsFree(port: number): boolean {
  for (const hostname of ["127.0.0.1", "0.0.0.0"]) {
    try {
      const l = Deno.listen({ hostname, port, transport: "tcp" });
      l.close();
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Picks `count` distinct free TCP ports in 15000–29999 (below the Linux ephemeral range, so
 * outgoing connections cannot take them meanwhile).
 */
export function pickFreePorts(count: number): number[] {
  const out = new Set<number>();
  for (let tries = 0; out.size < count && tries < 2000; tries++) {
    const p = 15000 + Math.floor(Math.random() * 15000);
    if (!out.has(p) && portIsFree(p)) out.add(p);
  }
  if (out.size < count) throw new Error(`could not find ${count} free TCP ports`);
  return [...out];
}

/** Size of a file in bytes, 0 if it does not exist. */
export function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** A file's text from byte `offset` on ("" if it does not exist). */
export function readFrom(path: string, offset: number): string {
  try {
    const bytes = Deno.readFileSync(path);
    return new TextDecoder().decode(bytes.subarray(Math.min(offset, bytes.length)));
  } catch {
    return "";
  }
}

function tailLines(text: string, lines: number): string {
  const all = text.split("\n");
  if (all.length > 0 && all[all.length - 1] === "") all.pop();
  return all.slice(-lines).join("\n");
}

/** SQL string literal. */
function q(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * A Galera cluster of 2 or 3 nodes on 127.0.0.1. Create with {@link Cluster.create}; always
 * call {@link Cluster.teardown} (in `finally`).
 */
export class Cluster {
  readonly nodes: Node[] = [];
  /** Value of the environment marker carried by every process of this cluster. */
  readonly id = randomHex(6);
  /** DENO_DIR handed to mariadbd (writable by mysql). */
  readonly denoDir: string;
  /** First PATH entry of mariadbd. */
  readonly pathPrefix: string;
  /** Template datadir made once by mariadb-install-db. */
  readonly templateDir: string;
  private tornDown = false;

  private constructor(
    readonly root: string,
    readonly options: ClusterOptions,
    /** The server version the nodes run. */
    readonly version: ServerVersion,
  ) {
    this.denoDir = `${root}/deno-dir`;
    this.pathPrefix = options.pathPrefix ?? `${root}/bin`;
    this.templateDir = `${root}/template-data`;
  }

  /**
   * Makes the temporary root, one bootstrap datadir (mariadb-install-db, copied to every
   * node), free ports and the option files. Nothing is started.
   */
  static async create(options: ClusterOptions): Promise<Cluster> {
    const root = await Deno.makeTempDir({ prefix: "e2e-galera-" });
    await Deno.chmod(root, 0o755);
    const c = new Cluster(root, options, await serverVersion());
    try {
      await c.init();
    } catch (e) {
      await c.teardown().catch(() => {});
      throw e;
    }
    return c;
  }

  private async init(): Promise<void> {
    const size = this.options.size ?? 2;
    for (const d of [this.denoDir, `${this.root}/bin`]) await Deno.mkdir(d, { recursive: true });
    await Deno.mkdir(this.templateDir, { mode: 0o750 });
    await chownMysql(this.denoDir, this.templateDir);
    await must("mariadb-install-db", "mariadb-install-db", [
      "--no-defaults",
      `--datadir=${this.templateDir}`,
      `--user=${MYSQL_USER}`,
      "--auth-root-authentication-method=socket",
      "--skip-test-db",
      "--skip-name-resolve",
      ...this.innodbSizing(),
      "--performance-schema=OFF",
    ], 120_000);
    await chownMysql(this.templateDir);

    const ports = pickFreePorts(size * 4);
    for (let i = 1; i <= size; i++) {
      const dir = `${this.root}/node${i}`;
      const placement = this.options.placement?.(`node${i}`, i) ?? {};
      const P = STANDARD_PORTS;
      const [port, galeraPort, istPort, sstPort] = placement.standardPorts
        ? [P.sql, P.galera, P.ist, P.sst]
        : ports.slice((i - 1) * 4, i * 4);
      const node = new Node(
        i,
        `node${i}`,
        dir,
        `${dir}/data`,
        `${dir}/tmp`,
        `${dir}/node.cnf`,
        `${dir}/mysqld.sock`,
        `${dir}/mysqld.pid`,
        `${dir}/error.log`,
        `${dir}/console.log`,
        port,
        galeraPort,
        istPort,
        sstPort,
        placement,
      );
      await Deno.mkdir(node.datadir, { recursive: true });
      await Deno.mkdir(node.tmpdir, { recursive: true });
      await must("copy template datadir", "cp", ["-a", `${this.templateDir}/.`, node.datadir]);
      await chownMysql(dir);
      await Deno.chmod(dir, 0o755);
      this.nodes.push(node);
    }
    for (const node of this.nodes) {
      const extra = this.options.configure ? await this.options.configure(node, this) : {};
      await this.writeConfig(node, extra);
    }
  }

  private innodbSizing(): string[] {
    return ["--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M"];
  }

  /** Whether Aria writes replicate (10.6+ with `wsrep_mode=REPLICATE_ARIA`). */
  get replicatesAria(): boolean {
    return atLeast(this.version, 10, 6);
  }

  /** Node by 1-based index. */
  node(index: number): Node {
    const n = this.nodes[index - 1];
    if (!n) throw new Error(`no node${index} in a ${this.nodes.length}-node cluster`);
    return n;
  }

  /** The node's option-file text for the given extra content. */
  configText(node: Node, extra: NodeExtra = {}): string {
    const o = this.options;
    const std = node.placement.standardPorts ?? false;
    const withPort = (n: Node, port: number) =>
      n.placement.standardPorts ? n.host : `${n.host}:${port}`;
    const provider = [
      ...(std ? [] : [
        `base_port=${node.galeraPort}`,
        `gmcast.listen_addr=tcp://${node.host}:${node.galeraPort}`,
        `ist.recv_addr=${node.host}:${node.istPort}`,
      ]),
      "gcache.size=32M",
      ...(o.providerOptions ?? []),
      ...(extra.providerOptions ?? []),
    ].join(";");
    const mysqld = [
      `datadir=${node.datadir}`,
      `tmpdir=${node.tmpdir}`,
      `socket=${node.socket}`,
      `pid_file=${node.pidFile}`,
      `log_error=${node.errorLog}`,
      `port=${node.port}`,
      `bind_address=${node.host}`,
      "skip_name_resolve",
      "performance_schema=OFF",
      "innodb_buffer_pool_size=64M",
      "innodb_log_file_size=16M",
      "innodb_flush_log_at_trx_commit=2",
      "default_storage_engine=InnoDB",
      "binlog_format=ROW",
      "innodb_autoinc_lock_mode=2",
      ...(o.binlog ?? true ? ["log_bin=mysql-bin", "log_slave_updates=ON"] : []),
      "wsrep_on=ON",
      `wsrep_provider=${GALERA_PROVIDER}`,
      `wsrep_cluster_name=e2e-${this.id}`,
      `wsrep_cluster_address=gcomm://${this.nodes.map((n) => withPort(n, n.galeraPort)).join(",")}`,
      `wsrep_node_name=${node.name}`,
      `wsrep_node_address=${withPort(node, node.galeraPort)}`,
      `wsrep_node_incoming_address=${node.host}:${node.port}`,
      ...(std ? [] : [`wsrep_sst_receive_address=${node.host}:${node.sstPort}`]),
      `wsrep_provider_options="${provider}"`,
      `wsrep_sst_method=${o.sstMethod}`,
      // MyISAM/Aria writes made after a node joined replicate too, so checksums stay equal.
      ...nonTransactionalReplication(node.placement.version ?? this.version),
      "wsrep_slave_threads=2",
      ...(o.extra?.mysqld ?? []),
      ...(extra.mysqld ?? []),
    ];
    const groups = new Map<string, string[]>();
    for (const src of [o.extra?.groups ?? {}, extra.groups ?? {}]) {
      for (const [g, lines] of Object.entries(src)) {
        groups.set(g, [...(groups.get(g) ?? []), ...lines]);
      }
    }
    let text = `# e2e cluster ${this.id}, ${node.name}\n[mysqld]\n${mysqld.join("\n")}\n`;
    for (const [g, lines] of groups) text += `\n[${g}]\n${lines.join("\n")}\n`;
    return text;
  }

  /** (Re)writes the node's option file (readable by mysql: the SST script reads it). */
  async writeConfig(node: Node, extra: NodeExtra = {}): Promise<void> {
    await Deno.writeTextFile(node.cnf, this.configText(node, extra));
    await Deno.chmod(node.cnf, 0o644);
  }

  /** Environment given to mariadbd (merged over this process's environment). */
  environment(node: Node): Record<string, string> {
    return {
      PATH: `${this.pathPrefix}:${SYSTEM_PATH}`,
      // The mysql account's real home; nothing may depend on it.
      HOME: "/nonexistent",
      DENO_DIR: this.denoDir,
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
      [MARKER_CLUSTER]: this.id,
      [MARKER_NODE]: `${this.id}:${node.name}`,
      ...(this.options.env ?? {}),
      ...(node.placement.env ?? {}),
    };
  }

  /** Last `lines` lines of the node's error log (plus captured console output, if any). */
  errorLogTail(node: Node, lines = 40): string {
    const log = tailLines(readFrom(node.errorLog, 0), lines);
    const con = tailLines(readFrom(node.consoleLog, 0), 10);
    return con ? `${log}\n--- ${node.name} console (tail) ---\n${con}` : log;
  }

  /** Error-log text written since the current/last start of the node. */
  logSinceStart(node: Node): string {
    return readFrom(node.errorLog, node.logOffset);
  }

  /**
   * An error for `node`/`step` with the node's log tail; with `others`, also the tails of the
   * other started nodes (a joiner's failure is often explained by its donor's log).
   */
  private fail(node: Node, step: string, detail: string, others = false): ClusterError {
    let tail = this.errorLogTail(node);
    if (others) {
      for (const n of this.nodes) {
        if (n === node || n.starts === 0) continue;
        tail += `\n--- ${n.name} error log (tail) ---\n${this.errorLogTail(n, 25)}`;
      }
    }
    return new ClusterError(node.name, step, detail, tail);
  }

  /**
   * Starts mariadbd for `node` and returns once it is spawned (use {@link waitSynced}).
   * `newCluster` adds `--wsrep-new-cluster` (bootstrap).
   */
  start(
    node: Node,
    opts: { newCluster?: boolean; args?: string[]; defaultsArgs?: string[] } = {},
  ): void {
    if (this.tornDown) throw this.fail(node, "start", "cluster already torn down");
    if (node.running) throw this.fail(node, "start", `already running as pid ${node.pid}`);
    node.logOffset = fileSize(node.errorLog);
    // mariadbd honours defaults options (e.g. --defaults-group-suffix) only at the front.
    const args = [
      `--defaults-file=${node.cnf}`,
      ...(opts.defaultsArgs ?? []),
      `--user=${MYSQL_USER}`,
      ...(opts.newCluster ? ["--wsrep-new-cluster"] : []),
      ...(opts.args ?? []),
    ];
    const child = denoAdapter.spawn({
      ...wrapped(node, MARIADBD, args),
      cwd: node.dir,
      env: this.environment(node),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      group: true,
    });
    node.child = child;
    node.starts++;
    node.pumps = [child.stdout, child.stderr].flatMap((s) => s ? [pumpTo(s, node.consoleLog)] : []);
  }

  /** Runs one SQL text over the node's socket; rows as arrays of column strings. */
  async sql(node: Node, query: string, timeoutMs = 60_000): Promise<string[][]> {
    const r = await this.client(node, query, timeoutMs);
    if (r.code !== 0 || r.timedOut) {
      const what = r.timedOut ? `timed out after ${timeoutMs} ms` : `exit ${r.code}`;
      throw this.fail(node, `sql "${query.slice(0, 120)}"`, `${what}: ${r.stderr.trim()}`);
    }
    return r.stdout.split("\n").filter((l) => l.length > 0).map((l) => l.split("\t"));
  }

  private client(node: Node, query: string, timeoutMs: number) {
    return run(
      denoAdapter,
      wrapped(node, "mariadb", [
        "--no-defaults",
        "--batch",
        "--skip-column-names",
        "--connect-timeout=5",
        "-S",
        node.socket,
        "-u",
        "root",
        "-e",
        query,
      ]),
      { timeoutMs },
    );
  }

  /** Value of one `SHOW STATUS` variable, or null if the server does not answer. */
  async status(node: Node, name: string): Promise<string | null> {
    const r = await this.client(node, `SHOW STATUS LIKE ${q(name)}`, 10_000);
    if (r.code !== 0 || r.timedOut) return null;
    const row = r.stdout.split("\n")[0]?.split("\t");
    return row && row.length >= 2 ? row[1] : null;
  }

  /**
   * Waits until `wsrep_local_state_comment` is `Synced`. Fails early if mariadbd exits.
   */
  async waitSynced(node: Node, timeoutMs = 90_000): Promise<void> {
    if (!node.child) throw this.fail(node, "waitSynced", "node was never started");
    const deadline = Date.now() + timeoutMs;
    let last: string | null = null;
    while (Date.now() < deadline) {
      if (node.child.exited) {
        const st = await node.child.status;
        throw this.fail(node, "waitSynced", `mariadbd exited (${fmtStatus(st)})`, true);
      }
      last = await this.status(node, "wsrep_local_state_comment");
      if (last === "Synced") return;
      await sleep(250);
    }
    throw this.fail(
      node,
      "waitSynced",
      `not Synced after ${timeoutMs} ms (last state: ${last ?? "no answer"})`,
      true,
    );
  }

  /**
   * Waits (bounded) until every running node has committed the same last seqno
   * (`wsrep_last_committed`). `Synced` alone does not mean that: a joiner turns Synced once its
   * receive queue is short, not empty, so writes made during its SST may still be applying.
   * Call it before comparing the nodes' data.
   */
  async waitCaughtUp(timeoutMs = 30_000): Promise<void> {
    const nodes = this.nodes.filter((n) => n.running);
    const deadline = Date.now() + timeoutMs;
    let seen: (string | null)[] = [];
    while (Date.now() < deadline) {
      seen = await Promise.all(nodes.map((n) => this.status(n, "wsrep_last_committed")));
      if (seen[0] !== null && seen.every((s) => s === seen[0])) return;
      await sleep(200);
    }
    throw this.fail(
      nodes[0],
      "waitCaughtUp",
      `nodes did not catch up within ${timeoutMs} ms: wsrep_last_committed ` +
        nodes.map((n, i) => `${n.name}=${seen[i]}`).join(" "),
      true,
    );
  }

  /**
   * Creates test data: schema `e2e` with a big InnoDB table (`rows` rows), a MyISAM and an
   * Aria table, and a second schema `e2e_second` with an InnoDB table.
   */
  async loadData(node: Node, opts: LoadOptions = {}): Promise<void> {
    const rows = opts.rows ?? 30_000;
    await this.sql(
      node,
      [
        "CREATE DATABASE e2e",
        "CREATE TABLE e2e.big (id INT PRIMARY KEY, k INT NOT NULL, pad VARCHAR(120) NOT NULL," +
        " KEY k (k)) ENGINE=InnoDB",
        `INSERT INTO e2e.big SELECT seq, seq * 7919 % 1000, REPEAT(CHAR(65 + seq % 26), 100)` +
        ` FROM e2e.seq_1_to_${rows}`,
        "CREATE TABLE e2e.myisam_t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=MyISAM",
        "INSERT INTO e2e.myisam_t SELECT seq, CONCAT('m', seq) FROM e2e.seq_1_to_2000",
        "CREATE TABLE e2e.aria_t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=Aria",
        "INSERT INTO e2e.aria_t SELECT seq, CONCAT('a', seq) FROM e2e.seq_1_to_2000",
        "CREATE DATABASE e2e_second",
        "CREATE TABLE e2e_second.t2 (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB",
        "INSERT INTO e2e_second.t2 SELECT seq, REPEAT('x', seq % 500) FROM e2e.seq_1_to_3000",
      ].join(";\n"),
      120_000,
    );
  }

  /**
   * Changes the data created by {@link loadData} (inserts, updates, deletes in every table);
   * `round` (1, 2, …) makes each call different.
   */
  async writeMore(node: Node, round: number, rows = 500): Promise<void> {
    const base = 1_000_000 * round;
    await this.sql(
      node,
      [
        `INSERT INTO e2e.big SELECT ${base} + seq, seq % 1000, CONCAT('round ${round} ', seq)` +
        ` FROM e2e.seq_1_to_${rows}`,
        `UPDATE e2e.big SET pad = CONCAT('upd ${round}') WHERE id % 97 = ${round % 97}` +
        ` AND id < 1000000`,
        `DELETE FROM e2e.big WHERE id % 101 = ${round % 101} AND id < 1000000`,
        `INSERT INTO e2e.myisam_t VALUES (${base}, 'round ${round}')`,
        // Before 10.6 Aria writes do not replicate: leave the Aria table as loaded.
        ...(this.replicatesAria
          ? [`INSERT INTO e2e.aria_t VALUES (${base}, 'round ${round}')`]
          : []),
        `UPDATE e2e_second.t2 SET v = CONCAT(v, '${round}') WHERE id % 10 = ${round % 10}`,
      ].join(";\n"),
      120_000,
    );
  }

  /**
   * `CHECKSUM TABLE` of every base table outside the system schemas (or of `schemas`):
   * `"schema.table" → checksum`.
   */
  async checksums(node: Node, schemas?: string[]): Promise<Record<string, string>> {
    const where = schemas
      ? `table_schema IN (${schemas.map(q).join(",")})`
      : `table_schema NOT IN (${SYSTEM_SCHEMAS.map(q).join(",")})`;
    const tables = await this.sql(
      node,
      `SELECT CONCAT('\`', table_schema, '\`.\`', table_name, '\`') FROM information_schema.tables` +
        ` WHERE table_type = 'BASE TABLE' AND ${where} ORDER BY table_schema, table_name`,
    );
    if (tables.length === 0) return {};
    const rows = await this.sql(
      node,
      `CHECKSUM TABLE ${tables.map((t) => t[0]).join(", ")} EXTENDED`,
      120_000,
    );
    return Object.fromEntries(rows.map((r) => [r[0], r[1]]));
  }

  /**
   * Clean shutdown: `mariadb-admin shutdown` (SIGTERM if the server does not answer), bounded
   * by `timeoutMs`; then SIGKILL and an error. A node that already exited is left alone.
   */
  async stop(node: Node, timeoutMs = 60_000): Promise<ExitStatus | null> {
    const child = node.child;
    if (!child) return null;
    if (child.exited) return await child.status;
    const deadline = Date.now() + timeoutMs;
    const adm = await run(
      denoAdapter,
      wrapped(node, "mariadb-admin", [
        "--no-defaults",
        "--connect-timeout=5",
        "-S",
        node.socket,
        "-u",
        "root",
        "shutdown",
      ]),
      { timeoutMs: Math.min(30_000, timeoutMs) },
    );
    if (adm.code !== 0 || adm.timedOut) signal(child.pid, "SIGTERM");
    const left = Math.max(1000, deadline - Date.now());
    if (!(await settlesWithin(child.status, left))) {
      signal(child.pid, "SIGTERM");
      if (!(await settlesWithin(child.status, 10_000))) {
        signal(child.pid, "SIGKILL");
        await settlesWithin(child.status, 10_000);
        throw this.fail(node, "stop", `mariadbd did not exit within ${timeoutMs} ms; killed`);
      }
    }
    await this.drainPumps(node);
    return await child.status;
  }

  /** SIGKILL to mariadbd only (a crash); its SST helpers, if any, are left alone. */
  async kill(node: Node): Promise<ExitStatus | null> {
    const child = node.child;
    if (!child) return null;
    if (!child.exited) signal(child.pid, "SIGKILL");
    if (!(await settlesWithin(child.status, 10_000))) {
      throw this.fail(node, "kill", `mariadbd pid ${child.pid} survived SIGKILL for 10 s`);
    }
    await this.drainPumps(node);
    return await child.status;
  }

  /** Removes the content of the node's datadir (the node must be stopped). */
  async wipe(node: Node): Promise<void> {
    if (node.running) throw this.fail(node, "wipe", "node is running");
    for await (const e of Deno.readDir(node.datadir)) {
      await Deno.remove(`${node.datadir}/${e.name}`, { recursive: true });
    }
  }

  /**
   * How the node got its state at its current/last start, from the error log written since
   * that start (see {@link classifyJoin}): "SST" if a state transfer installed a position
   * different from the node's local state, "IST" if it only received write sets, "none" if no
   * transfer was needed (bootstrap) or none completed yet.
   */
  joinType(node: Node): JoinType {
    return classifyJoin(this.logSinceStart(node));
  }

  /**
   * Live processes started by this cluster (mariadbd and every descendant, also those that
   * changed session or were orphaned), optionally of one node only.
   */
  processes(node?: Node): NodeProcess[] {
    const marker = node
      ? { name: MARKER_NODE, value: `${this.id}:${node.name}` }
      : { name: MARKER_CLUSTER, value: this.id };
    const targets = node ? [node] : this.nodes;
    const sessions = new Set<number>(
      targets.flatMap((n) => (n.pid !== null ? [n.pid] : [])),
    );
    const roots = new Set<number>(
      targets.flatMap((n) => (n.running && n.pid !== null ? [n.pid] : [])),
    );
    return findProcs({ marker, sessions, roots, mentions: `${node ? node.dir : this.root}/` });
  }

  /** The node whose mariadbd started process `pid` (by marker or session), or null. */
  ownerOf(pid: number): Node | null {
    const p = readProc(pid);
    if (!p) return null;
    const tag = p.env.get(MARKER_NODE);
    for (const n of this.nodes) {
      if (tag === `${this.id}:${n.name}` || (n.pid !== null && p.sid === n.pid)) return n;
      if (p.cmdline.includes(`${n.dir}/`) || (n.pid !== null && descendsFrom(p, n.pid))) return n;
    }
    return null;
  }

  /** Live processes of `node` other than its running mariadbd (SST scripts and helpers). */
  helpers(node: Node): NodeProcess[] {
    return this.processes(node).filter((p) => !(node.running && p.pid === node.pid));
  }

  /**
   * Waits (bounded) until `node` has no process besides its running mariadbd; returns what is
   * still there at the deadline (empty on success).
   */
  async waitHelpersGone(node: Node, timeoutMs = 10_000): Promise<NodeProcess[]> {
    const deadline = Date.now() + timeoutMs;
    let left = this.helpers(node);
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(200);
      left = this.helpers(node);
    }
    return left;
  }

  private async drainPumps(node: Node): Promise<void> {
    const pumps = node.pumps;
    node.pumps = [];
    await Promise.all(pumps.map(async (p) => {
      if (!(await settlesWithin(p.done, 3000))) {
        await p.reader.cancel().catch(() => {});
        await settlesWithin(p.done, 1000);
      }
    }));
  }

  /**
   * Kills every process of the cluster by PID (SIGKILL, bounded), waits for the mariadbd
   * children, removes the temporary root (kept with `E2E_KEEP=1`). Throws if a process
   * survives. Safe to call twice.
   */
  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const n of this.nodes) if (n.running && n.pid !== null) signal(n.pid, "SIGKILL");
    const sessions = new Set<number>(this.nodes.flatMap((n) => (n.pid !== null ? [n.pid] : [])));
    const { killed, survivors } = await killMatching(
      { marker: { name: MARKER_CLUSTER, value: this.id }, sessions },
      15_000,
    );
    if (Deno.env.get("E2E_DEBUG")) {
      console.error(
        `teardown: mariadbd ${this.nodes.map((n) => `${n.name}=${n.pid}`).join(" ")}; killed:\n` +
          killed.map(describe).join("\n"),
      );
    }
    for (const n of this.nodes) {
      if (n.child) await settlesWithin(n.child.status, 10_000);
      await this.drainPumps(n);
    }
    if (Deno.env.get("E2E_KEEP")) {
      console.error(`E2E_KEEP: cluster files kept in ${this.root}`);
    } else {
      await Deno.remove(this.root, { recursive: true }).catch((e) => {
        console.error(`teardown: could not remove ${this.root}: ${e}`);
      });
    }
    if (survivors.length > 0) {
      throw new Error(
        `teardown: processes survived SIGKILL:\n${survivors.map(describe).join("\n")}`,
      );
    }
  }
}

/**
 * Classifies the error-log text of one server start; see {@link Cluster.joinType}.
 *
 * MariaDB 10.11 runs the SST script and logs "SST succeeded for position <gtid>" on both paths
 * (with IST the script only hands over the unchanged local position), and Galera logs
 * "IST received: <gtid>" on both paths too (after an SST it applies the tail). What tells them
 * apart is whether the position installed by the SST differs from the local state that
 * Galera reported when it decided a transfer was needed:
 *
 * ```
 * WSREP: State transfer required:
 *         Group state: <uuid>:<seqno>
 *         Local state: <uuid>:<seqno>
 * WSREP: SST succeeded for position <uuid>:<seqno>
 * WSREP: IST received: <uuid>:<seqno>
 * ```
 */
export function classifyJoin(log: string): JoinType {
  if (!/WSREP: State transfer required:/.test(log)) return "none";
  const local = /^\s*Local state: (\S+)/m.exec(log)?.[1];
  const sst = /WSREP: SST succeeded for position (\S+)/.exec(log)?.[1];
  if (sst !== undefined && sst !== local) return "SST";
  if (sst !== undefined && /WSREP: IST received: /.test(log)) return "IST";
  return "none";
}

/**
 * Creates a cluster, runs `fn`, and always tears it down; then checks that no process of the
 * cluster is left. An error of `fn` is never masked by a teardown error (both are reported).
 */
export async function withCluster<T>(
  options: ClusterOptions,
  fn: (cluster: Cluster) => Promise<T>,
): Promise<T> {
  return withTeardown(await Cluster.create(options), fn, async (cluster) => {
    await cluster.teardown();
    const left = cluster.processes();
    if (left.length > 0) {
      throw new Error(`processes left after teardown:\n${left.map(describe).join("\n")}`);
    }
  }, "teardown");
}

/** `cmd args` behind the node's command prefix ({@link NodePlacement.wrap}), if any. */
function wrapped(node: Node, cmd: string, args: string[]): { cmd: string; args: string[] } {
  const w = node.placement.wrap ?? [];
  return w.length === 0 ? { cmd, args } : { cmd: w[0], args: [...w.slice(1), cmd, ...args] };
}

function fmtStatus(s: ExitStatus): string {
  return s.signal ? `signal ${s.signal}` : `code ${s.code}`;
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // already gone
  }
}

function pumpTo(stream: ReadableStream<Uint8Array>, path: string): Pump {
  const reader = stream.getReader();
  const done = (async () => {
    const file = await Deno.open(path, { create: true, append: true });
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        await file.write(value);
      }
    } catch {
      // cancelled
    } finally {
      file.close();
      reader.releaseLock();
    }
  })();
  return { reader, done };
}

/** Whether `p` runs below process `ancestor` (parent chain, bounded). */
function descendsFrom(p: ProcInfo, ancestor: number): boolean {
  let cur: ProcInfo | null = p;
  for (let i = 0; cur !== null && i < 64; i++) {
    if (cur.ppid === ancestor) return true;
    if (cur.ppid <= 1) return false;
    cur = readProc(cur.ppid);
  }
  return false;
}
