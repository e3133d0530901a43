/**
 * The benchmark's cluster: two MariaDB Galera nodes, each in its own network namespace
 * (`bench-…`, see scripts/lib/netns.ts), standard ports, one test CA. {@link withBench} builds it,
 * runs a scenario and tears everything down on every exit path (end, error, SIGINT, SIGTERM,
 * SIGHUP); `--keep` keeps the cluster's files. With {@link BenchSetup.fs} both nodes' datadirs
 * live on loop-mounted images of that type (scripts/lib/loop_fs.ts), made before the cluster
 * and removed after it (`--keep` leaves them mounted).
 *
 * @module
 */
import { chownMysql, Cluster, type Node } from "../lib/cluster.ts";
import { NetnsLab, probeNetns } from "../lib/netns.ts";
import { LAUNCHER_DIR, requireLauncher } from "../lib/launcher.ts";
import { type Leaf, makeCa, makeLeaf } from "../lib/pki.ts";
import { datadirOn, type LoopFs, type LoopFsType, makeLoopFs, makeTmpFs } from "../lib/loop_fs.ts";
import { type Method, METHODS, nodeExtra, type Pki } from "./methods.ts";

/** A running benchmark cluster. */
export interface Bench {
  lab: NetnsLab;
  cluster: Cluster;
  pki: Pki;
  /** The donor (holds the data). */
  n1: Node;
  /** The joiner. */
  n2: Node;
  /** How the link between the nodes is shaped, in words. */
  linkText: string;
}

/** What {@link withBench} builds. */
export interface BenchSetup {
  /** The link's shape when the cluster starts (a scenario may change it: {@link shapeLink}). */
  link: Link;
  /** Keep the cluster's files after teardown (`E2E_KEEP`). */
  keep: boolean;
  /** Extra `wsrep_provider_options` entries of node1 (e.g. a small gcache). */
  donorProviderOptions?: string[];
  /** Both datadirs on loop-mounted images of this type and size (MiB, sparse); none: the host's. */
  fs?: { type: LoopFsType; mib: number };
  /** node2's datadir on a tmpfs of its own (with {@link fs}): the joiner's writes off the donor's disk. */
  joinerTmpfs?: boolean;
  /** Binary logging on both nodes (`log_bin`; default true, as in the test clusters). */
  binlog?: boolean;
  /** Extra `wsrep_provider_options` entries of both nodes (e.g. Galera's EVS timers). */
  providerOptions?: string[];
}

/** What {@link withBench} tears down. */
interface Held {
  lab?: NetnsLab;
  cluster?: Cluster;
  /** The images, and the bind mounts of the datadirs on them. */
  images: LoopFs[];
  unmounts: (() => Promise<void>)[];
}

async function makePki(root: string): Promise<Pki> {
  const dir = `${root}/pki`;
  await Deno.mkdir(dir, { recursive: true });
  const ca = await makeCa(dir, "bench-ca");
  const leaves = new Map<string, Leaf>();
  for (const n of ["node1", "node2"]) {
    leaves.set(n, await makeLeaf(dir, ca, n, { cn: n, sans: [`DNS:${n}`] }));
  }
  await chownMysql(dir);
  return { ca, leaves };
}

/** How the link between the two hosts is shaped. */
export type Link = "fast" | "slow";

/** What {@link shapeLink} says of the fast link. */
const FAST_TEXT = "fast (veth pair over a bridge)";

/** Shapes both hosts' egress: 200 Mbit/s, plus 5 ms delay each way if netem exists. */
export async function slowLink(lab: NetnsLab): Promise<string> {
  const netem = ["root", "netem", "rate", "200mbit", "delay", "5ms", "limit", "10000"];
  const tbf = ["root", "tbf", "rate", "200mbit", "burst", "256kb", "latency", "50ms"];
  let how = "netem 200 Mbit/s, 5 ms each way (10 ms RTT)";
  for (const h of lab.hosts) {
    let r = await lab.exec(h.name, "tc", ["qdisc", "replace", "dev", "eth0", ...netem]);
    if (r.code !== 0) {
      how = "tbf 200 Mbit/s each way (no netem in this kernel: no added delay)";
      r = await lab.exec(h.name, "tc", ["qdisc", "replace", "dev", "eth0", ...tbf]);
    }
    if (r.code !== 0) throw new Error(`tc in ${h.name}: ${r.stderr}`);
  }
  return how;
}

/** Removes the shaping of {@link slowLink} from both hosts (the veths' own queue again). */
export async function fastLink(lab: NetnsLab): Promise<string> {
  for (const h of lab.hosts) {
    if (await rootShaper(lab, h.name) === null) continue;
    const r = await lab.exec(h.name, "tc", ["qdisc", "del", "dev", "eth0", "root"]);
    if (r.code !== 0) throw new Error(`tc qdisc del in ${h.name}: ${r.stderr}`);
  }
  return FAST_TEXT;
}

/**
 * The root qdisc of host `name`'s `eth0` when it is a shaper of {@link slowLink} (`netem` or
 * `tbf`, as `tc qdisc show` prints it), else null.
 */
async function rootShaper(lab: NetnsLab, name: string): Promise<string | null> {
  const r = await lab.exec(name, "tc", ["qdisc", "show", "dev", "eth0"]);
  if (r.code !== 0) throw new Error(`tc qdisc show in ${name}: ${r.stderr}`);
  const line = r.stdout.split("\n").find((l) => /^qdisc (netem|tbf) \S+ root /.test(l));
  return line?.trim() ?? null;
}

/**
 * Shapes the link as `link` asks, then checks both hosts' root qdisc says so (slow: a shaper at
 * 200 Mbit/s; fast: none), whatever shape it had before: a scenario can switch between the two
 * within one run. Returns the link in words.
 */
export async function shapeLink(lab: NetnsLab, link: Link): Promise<string> {
  const text = link === "slow" ? await slowLink(lab) : await fastLink(lab);
  for (const h of lab.hosts) {
    const shaper = await rootShaper(lab, h.name);
    const ok = link === "slow" ? /rate 200Mbit/.test(shaper ?? "") : shaper === null;
    if (!ok) throw new Error(`${h.name}'s eth0 is not ${link} after shaping: ${shaper}`);
  }
  return text;
}

/** Bytes host `name` has sent and received on its `eth0` so far (the kernel's link counters). */
export async function linkBytes(lab: NetnsLab, name: string): Promise<{ tx: number; rx: number }> {
  const r = await lab.exec(name, "ip", ["-s", "-j", "link", "show", "dev", "eth0"]);
  if (r.code !== 0) throw new Error(`ip -s link in ${name}: ${r.stderr}`);
  const s = JSON.parse(r.stdout)[0].stats64;
  return { tx: Number(s.tx.bytes), rx: Number(s.rx.bytes) };
}

/** Writes both nodes' option files for method `m`. */
export async function configure(b: Bench, m: Method, setup: BenchSetup): Promise<void> {
  await b.cluster.writeConfig(b.n1, nodeExtra(b.pki, b.n1, m, setup.donorProviderOptions));
  await b.cluster.writeConfig(b.n2, nodeExtra(b.pki, b.n2, m));
}

async function buildCluster(
  lab: NetnsLab,
  setup: BenchSetup,
  held: Held,
): Promise<[Cluster, Pki]> {
  let pki: Pki | null = null;
  if (setup.fs) {
    held.images.push(await makeLoopFs(setup.fs.type, setup.fs.mib));
    held.images.push(
      setup.joinerTmpfs
        ? await makeTmpFs(setup.fs.mib)
        : await makeLoopFs(setup.fs.type, setup.fs.mib),
    );
  }
  const cluster = await Cluster.create({
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    binlog: setup.binlog,
    providerOptions: setup.providerOptions,
    placement: (name) => ({ host: name, standardPorts: true, wrap: lab.wrap(name) }),
    configure: async (node, c) => {
      pki ??= await makePki(c.root);
      const image = held.images[node.index - 1];
      if (image) held.unmounts.push(await datadirOn(image, node));
      const opts = node.index === 1 ? setup.donorProviderOptions : [];
      return nodeExtra(pki, node, METHODS.tunnel, opts);
    },
  });
  return [cluster, pki!];
}

/**
 * Builds lab and cluster (both nodes started and Synced; the link shaped as asked), runs `fn`
 * and always tears everything down, also on SIGINT, SIGTERM and SIGHUP (exit 130).
 */
export async function withBench<T>(setup: BenchSetup, fn: (b: Bench) => Promise<T>): Promise<T> {
  const skip = await probeNetns();
  if (skip) throw new Error(`bench: cannot build network namespaces: ${skip}`);
  await requireLauncher();
  if (setup.keep) Deno.env.set("E2E_KEEP", "1"); // the cluster's teardown keeps its files
  const held: Held = { images: [], unmounts: [] };
  const cleanup = onceCleanup(held, setup.keep);
  const onSignal = (sig: Deno.Signal) => () => {
    console.error(`\n${sig}: cleaning up …`);
    cleanup().finally(() => Deno.exit(130));
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(sig, onSignal(sig));
  }
  try {
    const lab = held.lab = await NetnsLab.create(["node1", "node2"], { prefix: "bench-" });
    const linkText = await shapeLink(lab, setup.link);
    const [cluster, pki] = await buildCluster(lab, setup, held);
    held.cluster = cluster;
    const b: Bench = { lab, cluster, pki, n1: cluster.node(1), n2: cluster.node(2), linkText };
    console.log(`cluster in ${cluster.root}; link: ${linkText}`);
    cluster.start(b.n1, { newCluster: true });
    await cluster.waitSynced(b.n1);
    cluster.start(b.n2);
    await cluster.waitSynced(b.n2);
    return await fn(b);
  } finally {
    await cleanup();
  }
}

/**
 * Tears down what `held` holds, once (later calls get the same promise); with `keep` the images
 * stay mounted (their paths are printed).
 */
function onceCleanup(held: Held, keep: boolean): () => Promise<void> {
  let cleaning: Promise<void> | null = null;
  return () => {
    cleaning ??= (async () => {
      if (!keep) { for (const u of held.unmounts) await u(); }
      await held.cluster?.teardown().catch((e) => console.error(`cluster teardown: ${e}`));
      for (const fs of held.images) {
        if (keep) console.error(`kept: ${fs.type} image mounted on ${fs.dir}`);
        else await fs.teardown().catch((e) => console.error(`${fs.type} image teardown: ${e}`));
      }
      if (!held.lab) return;
      const killed = await held.lab.teardown().catch((e) => [`lab teardown failed: ${e}`]);
      if (killed.length > 0) console.error(`lab teardown: ${killed.join("; ")}`);
    })();
    return cleaning;
  };
}
