/**
 * Shared pieces of the real-cluster scenario, layout and configuration tests of
 * `wsrep_sst_method=rsync_tunnel`: the launcher check, a test PKI per cluster, per-node option
 * file state that can be rewritten between joins, a start with leading defaults options (which
 * the fixture's `start` cannot pass), and one "join and verify" step that checks the join type,
 * that the join went through our program, data equality on every running node and that no
 * helper process is left.
 *
 * @module
 */
import {
  chownMysql,
  type Cluster,
  fileSize,
  type JoinType,
  type Node,
  type NodeExtra,
  readFrom,
} from "../../../scripts/lib/cluster.ts";
import { assert, AssertionError, diffMaps } from "./assert.ts";
import { describe } from "../../../scripts/lib/procfs.ts";
import { type Ca, type Leaf, makeCa, makeLeaf } from "../../../scripts/lib/pki.ts";
import { denoAdapter, run, settlesWithin, sleep } from "../../../src/proc/process.ts";

export { LAUNCHER_DIR, requireLauncher } from "../../../scripts/lib/launcher.ts";

/** Logs a progress line with the time since the stopwatch was made. */
export function stopwatch(label: string): (what: string) => void {
  const t0 = Date.now();
  return (what) => console.error(`  [${label} ${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
}

// ---------------------------------------------------------------------------------------------
// TLS material

/** Paths of one node's TLS material. */
export interface NodeTls {
  ca: string;
  cert: string;
  key: string;
}

/** Options of {@link certificates}. */
export interface CertOptions {
  /** Common name (default `localhost`). */
  cn?: string;
  /** subjectAltName entries (default `DNS:localhost`, `IP:127.0.0.1`). */
  sans?: string[];
}

/**
 * A per-cluster test CA and one certificate per node, made on first use under
 * `<cluster root>/pki` (owned by mysql: the SST program reads the 0600 files).
 */
export function certificates(opts: CertOptions = {}): (node: Node, c: Cluster) => Promise<NodeTls> {
  const cas = new Map<string, Promise<Ca>>();
  const leaves = new Map<string, Promise<Leaf>>();
  return async (node, cluster) => {
    const dir = `${cluster.root}/pki`;
    if (!cas.has(cluster.root)) {
      cas.set(
        cluster.root,
        Deno.mkdir(dir, { recursive: true }).then(() => makeCa(dir, "e2e-ca")),
      );
    }
    const ca = await cas.get(cluster.root)!;
    const id = `${cluster.root}/${node.name}`;
    if (!leaves.has(id)) {
      leaves.set(
        id,
        makeLeaf(dir, ca, node.name, {
          cn: opts.cn ?? "localhost",
          sans: opts.sans ?? ["DNS:localhost", "IP:127.0.0.1"],
        }),
      );
    }
    const leaf = await leaves.get(id)!;
    await chownMysql(dir);
    return { ca: ca.cert, cert: leaf.cert, key: leaf.key };
  };
}

/** The `[sst]` lines naming the TLS material. */
export function sstLines(t: NodeTls): string[] {
  return [`tca=${t.ca}`, `tcert=${t.cert}`, `tkey=${t.key}`];
}

// ---------------------------------------------------------------------------------------------
// Option files that can be changed between joins

/**
 * Remembers the extra option-file content of every node so a test can change one part and
 * rewrite the file (the fixture's `writeConfig` replaces the whole extra content).
 */
export class NodeConfigs {
  private readonly extras = new Map<string, NodeExtra>();

  /** Wraps a `configure` hook so that its result is remembered. */
  capture(
    fn: (node: Node, cluster: Cluster) => NodeExtra | Promise<NodeExtra>,
  ): (node: Node, cluster: Cluster) => Promise<NodeExtra> {
    return async (node, cluster) => {
      const extra = await fn(node, cluster);
      this.extras.set(node.name, extra);
      return extra;
    };
  }

  /** The remembered extra content of `node`. */
  get(node: Node): NodeExtra {
    return this.extras.get(node.name) ?? {};
  }

  /** Replaces the extra content of `node` with `change(current)` and rewrites its file. */
  async rewrite(
    cluster: Cluster,
    node: Node,
    change: (current: NodeExtra) => NodeExtra,
  ): Promise<void> {
    const next = change(this.get(node));
    this.extras.set(node.name, next);
    await cluster.writeConfig(node, next);
  }
}

/** `extra` with its `[mysqld]` lines for the given option names replaced by `lines`. */
export function withMysqld(extra: NodeExtra, lines: string[]): NodeExtra {
  const names = new Set(lines.map(optionName));
  return {
    ...extra,
    mysqld: [...(extra.mysqld ?? []).filter((l) => !names.has(optionName(l))), ...lines],
  };
}

function optionName(line: string): string {
  return line.split("=")[0].trim().replace(/-/g, "_");
}

// ---------------------------------------------------------------------------------------------
// Starting, logs, files

/** Current size of the node's error log (an offset for {@link logFrom}). */
export function logMark(node: Node): number {
  return fileSize(node.errorLog);
}

/** The node's error log from byte `offset`. */
export function logFrom(node: Node, offset: number): string {
  return readFrom(node.errorLog, offset);
}

/** The lines that explain an SST: ours (`WSREP_SST:`), errors, and mariadbd's SST lines. */
export function sstLinesOf(log: string, max = 40): string[] {
  const keep = log.split("\n").filter((l) =>
    /WSREP_SST:|\[ERROR\]|SST (failed|succeeded|received|sent)|State transfer|requested state/
      .test(l)
  );
  return keep.slice(-max);
}

/** Starts mariadbd with `defaultsArgs` (e.g. `--defaults-group-suffix=.x`) at the front. */
export function startWithDefaults(
  cluster: Cluster,
  node: Node,
  defaultsArgs: string[],
  opts: { newCluster?: boolean } = {},
): void {
  cluster.start(node, { ...opts, defaultsArgs });
}

/** Removes the content of `dir` (not `dir` itself). */
export async function emptyDir(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    await Deno.remove(`${dir}/${e.name}`, { recursive: true });
  }
}

/** Makes `dirs` (mode 0750, owned by mysql). */
export async function makeMysqlDirs(...dirs: string[]): Promise<void> {
  for (const d of dirs) await Deno.mkdir(d, { recursive: true, mode: 0o750 });
  await chownMysql(...dirs);
}

/** Runs a command; throws with its output unless it exits 0. */
export async function mustRun(cmd: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await run(denoAdapter, { cmd, args }, { timeoutMs });
  if (r.code !== 0 || r.timedOut) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${r.timedOut ? "timed out" : `exit ${r.code}`}\n${r.stderr}`,
    );
  }
  return r.stdout;
}

/** Waits (bounded) until nothing listens on TCP `port` (e.g. 4444 used by another test). */
export async function waitPortFree(port: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      Deno.listen({ hostname: "0.0.0.0", port }).close();
      return;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(`TCP port ${port} stayed busy for ${timeoutMs} ms (another test?)`);
      }
      await sleep(500);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Joining and verifying

/** What {@link joinNode} expects. */
export type Expect = JoinType | "SST or IST";

/** Options of {@link joinNode}. */
export interface JoinOptions {
  expect: Expect;
  /** Defaults options to pass first (see {@link startWithDefaults}). */
  defaultsArgs?: string[];
  /** Bound of the wait for Synced (default 90 s). */
  timeoutMs?: number;
  /** Number of non-system tables the checksums must cover (default: at least one). */
  tables?: number;
  /** The node expected to be the donor (default: any running node). */
  donor?: Node;
  /** Called once the joiner is Synced, before anything is checked (e.g. to stop writers). */
  onSynced?: () => Promise<void>;
}

/** What a join did. */
export interface JoinReport {
  type: JoinType;
  seconds: number;
  /** Joiner's error log since this start. */
  joinerLog: string;
  /** Each other node's error log written during the join. */
  otherLogs: Map<string, string>;
}

/** The WSREP_SST context of every node since `marks`, for failure messages. */
function context(cluster: Cluster, marks: Map<string, number>): string {
  return cluster.nodes.filter((n) => n.starts > 0).map((n) =>
    `--- ${n.name} (SST lines since the step began) ---\n` +
    (sstLinesOf(logFrom(n, marks.get(n.name) ?? 0)).join("\n") || "(none)")
  ).join("\n");
}

/** Log offsets of every node now. */
export function marks(cluster: Cluster): Map<string, number> {
  return new Map(cluster.nodes.map((n) => [n.name, logMark(n)]));
}

/**
 * Starts `joiner` (stopped), waits until it is Synced and checks: the join type, that our
 * program ran on the joiner (and, for an SST, on a donor, which completed it), data equality
 * on every running node, and no helper process left on any node.
 */
export async function joinNode(
  cluster: Cluster,
  joiner: Node,
  opts: JoinOptions,
): Promise<JoinReport> {
  const before = marks(cluster);
  const t = Date.now();
  if (opts.defaultsArgs) startWithDefaults(cluster, joiner, opts.defaultsArgs);
  else cluster.start(joiner);
  await cluster.waitSynced(joiner, opts.timeoutMs ?? 90_000);
  const seconds = (Date.now() - t) / 1000;
  await opts.onSynced?.();
  const type = cluster.joinType(joiner);
  const why = () => context(cluster, before);
  const ok = opts.expect === "SST or IST" ? type === "SST" || type === "IST" : type === opts.expect;
  if (!ok) {
    throw new AssertionError(
      `${joiner.name}: expected a join by ${opts.expect}, the log says ${type}\n${why()}`,
    );
  }
  const joinerLog = cluster.logSinceStart(joiner);
  const otherLogs = new Map(
    cluster.nodes.filter((n) => n !== joiner).map((n) => [n.name, logFrom(n, before.get(n.name)!)]),
  );
  const ours = /WSREP_SST: \[INFO\] rsync_tunnel SST started on joiner/.test(joinerLog);
  assert(ours, `${joiner.name}: wsrep_sst_rsync_tunnel did not run as joiner\n${why()}`);
  const handover = /WSREP_SST: \[INFO\] SST complete on joiner: state (\S+ \d+)( \(IST follows\))?/
    .exec(joinerLog);
  assert(handover, `${joiner.name}: our joiner did not complete\n${why()}`);
  if (type === "SST") {
    assert(!handover[2], `${joiner.name}: an SST but our joiner saw an IST hand-over\n${why()}`);
    const donors = [...otherLogs].filter(([, log]) =>
      /WSREP_SST: \[INFO\] rsync_tunnel SST started on donor/.test(log) &&
      /WSREP_SST: \[INFO\] SST complete on donor/.test(log)
    ).map(([name]) => name);
    assert(
      donors.length === 1,
      `${joiner.name}: one donor ran our program, saw ${donors}\n${why()}`,
    );
    if (opts.donor) {
      assert(
        donors[0] === opts.donor.name,
        `${joiner.name}: expected ${opts.donor.name} as donor, saw ${donors[0]}\n${why()}`,
      );
    }
  } else if (type === "IST") {
    assert(handover[2], `${joiner.name}: an IST but our joiner got a full SST\n${why()}`);
  }
  await verifyCluster(cluster, `after ${joiner.name} joined by ${type}`, opts.tables, before);
  return { type, seconds, joinerLog, otherLogs };
}

/**
 * Checks that every running node has the same checksums (of `tables` tables, if given) and
 * that no node has a process besides its mariadbd (bounded wait).
 */
export async function verifyCluster(
  cluster: Cluster,
  step: string,
  tables?: number,
  since?: Map<string, number>,
): Promise<Record<string, string>> {
  await cluster.waitCaughtUp();
  const nodes = cluster.nodes.filter((n) => n.running);
  const sums = await Promise.all(nodes.map((n) => cluster.checksums(n)));
  const count = Object.keys(sums[0]).length;
  assert(
    tables === undefined ? count > 0 : count === tables,
    `${step}: ${nodes[0].name} has ${count} test tables, expected ${tables ?? "some"}`,
  );
  for (let i = 1; i < nodes.length; i++) {
    const diff = diffMaps(sums[0], sums[i]);
    assert(
      diff.length === 0,
      `${step}: ${nodes[i].name}'s data differs from ${nodes[0].name}'s:\n${diff.join("\n")}` +
        (since ? `\n${context(cluster, since)}` : ""),
    );
  }
  for (const n of cluster.nodes) {
    const left = await cluster.waitHelpersGone(n);
    assert(
      left.length === 0,
      `${step}: processes of ${n.name} left besides mariadbd:\n${left.map(describe).join("\n")}`,
    );
  }
  return sums[0];
}

// ---------------------------------------------------------------------------------------------
// Writes

/** Inserts into a small InnoDB table `e2e.w` (created if missing), one statement per call. */
export async function ensureWriteTable(cluster: Cluster, node: Node): Promise<void> {
  await cluster.sql(
    node,
    "CREATE TABLE IF NOT EXISTS e2e.w (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(20)," +
      " at DATETIME(6) DEFAULT NOW(6)) ENGINE=InnoDB",
  );
}

/** A running writer; see {@link backgroundWriter}. */
export interface Writer {
  /** Rows inserted so far. */
  readonly count: number;
  /** Stops after the statement in flight; returns the number of rows inserted. */
  stop(): Promise<number>;
}

/**
 * Inserts rows into `e2e.w` on `node`, one client call each, until stopped or `max` rows are
 * written. A failing statement stops the writer and makes `stop` throw.
 */
export function backgroundWriter(cluster: Cluster, node: Node, max: number, tag: string): Writer {
  let count = 0;
  let running = true;
  const loop = (async () => {
    while (running && count < max) {
      await cluster.sql(node, `INSERT INTO e2e.w (who) VALUES ('${tag}')`, 120_000);
      count++;
      await sleep(20);
    }
  })().then(() => null, (e: unknown) => e);
  return {
    get count() {
      return count;
    },
    async stop() {
      running = false;
      if (!(await settlesWithin(loop, 130_000))) throw new Error("writer did not stop in 130 s");
      const failure = await loop;
      if (failure) throw failure;
      return count;
    },
  };
}

/**
 * Waits (bounded) until the node's error log from `offset` matches `re`; returns the match.
 * Fails early if `whileAlive` (a node) stops running.
 */
export async function waitLog(
  node: Node,
  offset: number,
  re: RegExp,
  timeoutMs: number,
  whileAlive?: Node,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(logFrom(node, offset));
    if (m) return m;
    if (whileAlive && !whileAlive.running) {
      throw new AssertionError(
        `${whileAlive.name} exited while waiting for ${re} in ${node.name}'s log`,
      );
    }
    if (Date.now() > deadline) {
      throw new AssertionError(
        `${node.name}: ${re} not in the error log within ${timeoutMs} ms\n` +
          sstLinesOf(logFrom(node, offset)).join("\n"),
      );
    }
    await sleep(100);
  }
}

/**
 * Replaces `datadir`'s content by a fresh `mariadb-install-db` run with the server options
 * `serverArgs` (e.g. a separate InnoDB data home), as the fixture's template is made.
 */
export async function installDatadir(datadir: string, serverArgs: string[]): Promise<void> {
  await emptyDir(datadir);
  await mustRun("mariadb-install-db", [
    "--no-defaults",
    `--datadir=${datadir}`,
    "--user=mysql",
    "--auth-root-authentication-method=socket",
    "--skip-test-db",
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=16M",
    "--performance-schema=OFF",
    ...serverArgs,
  ]);
  await chownMysql(datadir);
}

/** Regular files directly in `dir`, sorted (empty if `dir` is missing). */
export function filesIn(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name).sort();
  } catch {
    return [];
  }
}
