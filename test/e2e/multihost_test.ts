/**
 * Multi-host end-to-end test of `wsrep_sst_method=rsync_tunnel` with certificate names checked:
 * three real mariadbd/Galera nodes, each in its own network namespace (private addresses
 * 10.77.0.11–13 on a bridge that lives in a namespace of its own; see ./netns.ts), host names
 * node1…node3 from a per-namespace /etc/hosts, the standard ports, and addresses given by name
 * as on real hosts (`bind_address=nodeN`, `wsrep_node_address=nodeN`,
 * `wsrep_cluster_address=gcomm://node1,node2,node3`). One test CA issues a certificate per node
 * with CN and subjectAltName DNS = the node's name.
 *
 * - node1 bootstraps and gets data;
 * - node2 joins by SST from node1; its SST address is derived by mariadbd from
 *   `wsrep_node_address` (a name), so the donor checks the name as given;
 * - node3 joins by SST from node2 (`wsrep_sst_donor`); it sets `wsrep_sst_receive_address` to
 *   its IP, so the donor must map the IP to `node3` (`getent hosts`) and check that name;
 * - checksums are equal on all three;
 * - node3 is stopped, wiped and restarted with a certificate issued for `nodeX`: the donor
 *   refuses it with one ERROR naming the name mismatch, node3 does not join, node1 and node2
 *   stay Synced, and no SST process is left on any node.
 *
 * Skipped (with the reason) only where `ip netns add` and veth/bridge creation are impossible.
 * Needs the launcher built by `deno task build` (`dist/bin/wsrep_sst_rsync_tunnel`).
 */
import {
  chownMysql,
  type Cluster,
  fileSize,
  type Node,
  type NodeExtra,
  readFrom,
  withCluster,
} from "../../scripts/lib/cluster.ts";
import { type NetnsLab, probeNetns, withLab } from "../../scripts/lib/netns.ts";
import { assert, assertEquals, diffMaps } from "./support/assert.ts";
import { joinWatched, stopwatch } from "./support/flows.ts";
import { LAUNCHER_DIR, requireLauncher } from "../../scripts/lib/launcher.ts";
import type { Listener } from "./support/listeners.ts";
import { waitNsOnly, watchListenersIn } from "./support/netns_listeners.ts";
import { describe } from "../../scripts/lib/procfs.ts";
import { type Ca, type Leaf, makeCa, makeLeaf } from "../../scripts/lib/pki.ts";
import { denoAdapter, run, settlesWithin, sleep } from "../../src/proc/process.ts";
import { GALERA_PLAINTEXT } from "../support/log_lines.ts";

const NAMES = ["node1", "node2", "node3"];
/** The name on node3's certificate in the negative check. */
const WRONG_NAME = "nodeX";
const JOIN_TIMEOUT_MS = 90_000;

const SKIP = await probeNetns();
if (SKIP) console.error(`multihost_test: SKIPPED — ${SKIP}`);

/** The test PKI: one CA, a leaf per node named after it, and a `nodeX` leaf. */
interface Pki {
  ca: Ca;
  leaves: Map<string, Leaf>;
}

async function makePki(dir: string): Promise<Pki> {
  await Deno.mkdir(dir, { recursive: true });
  const ca = await makeCa(dir, "e2e-multihost-ca");
  const leaves = new Map<string, Leaf>();
  for (const name of [...NAMES, WRONG_NAME]) {
    leaves.set(name, await makeLeaf(dir, ca, name, { cn: name, sans: [`DNS:${name}`] }));
  }
  await chownMysql(dir); // files are 0600: the SST program runs as mysql
  return { ca, leaves };
}

/** `[sst]` TLS keys with the certificate issued for `certName`. */
function sstGroup(pki: Pki, certName: string): string[] {
  const leaf = pki.leaves.get(certName)!;
  return [`tca=${pki.ca.cert}`, `tcert=${leaf.cert}`, `tkey=${leaf.key}`];
}

/** Option-file content of a node, with the certificate issued for `certName`. */
function nodeExtra(lab: NetnsLab, pki: Pki, node: Node, certName: string): NodeExtra {
  const mysqld = node.name === "node3"
    ? [
      // An IP as SST address: the donor must map it to node3 through the resolver.
      `wsrep_sst_receive_address=${lab.host("node3").ip}`,
      // Donor node2: a node that itself got its data by SST.
      "wsrep_sst_donor=node2",
    ]
    : [];
  return { mysqld, groups: { sst: sstGroup(pki, certName) } };
}

/** `role → --address` of every SST script mariadbd ran, from error-log text. */
function sstCommandAddresses(log: string): { role: string; address: string }[] {
  const out: { role: string; address: string }[] = [];
  for (const m of log.matchAll(/--role '?(joiner|donor)'? --address '?([^'\s]+)'?/g)) {
    out.push({ role: m[1], address: m[2] });
  }
  return out;
}

/** `WSREP_SST:` lines of error-log text (for messages). */
function sstLines(log: string, max = 30): string {
  return log.split("\n").filter((l) => l.includes("WSREP_SST:")).slice(-max).join("\n");
}

/** Starts `joiner`, waits until Synced, records the listeners inside its namespace meanwhile. */
function joinWatchedIn(cluster: Cluster, lab: NetnsLab, joiner: Node) {
  return joinWatched(
    cluster,
    joiner,
    JOIN_TIMEOUT_MS,
    watchListenersIn(
      lab,
      joiner.name,
      [],
      (l) => (l.pid === joiner.pid ? "mariadbd" : cluster.ownerOf(l.pid)?.name),
    ),
  );
}

/** What {@link checkSstJoin} found besides its assertions. */
interface JoinReport {
  /** `joiner --address …, donor --address …` as mariadbd passed them. */
  addresses: string;
  /** `WSREP_SST: [WARNING]` lines of both sides during the SST. */
  warnings: string[];
}

/** What one SST join must show: the addresses mariadbd passes and whether an IP was mapped. */
interface SstExpect {
  joinerAddress: string;
  donorAddressHost: string;
  reverseMapped: boolean;
}

/** Checks one SST join: join type, addresses, names, the joiner's listener, no leftovers. */
async function checkSstJoin(
  cluster: Cluster,
  lab: NetnsLab,
  joiner: Node,
  donor: Node,
  donorOffset: number,
  listeners: Listener[],
  expect: SstExpect,
): Promise<JoinReport> {
  const step = `${joiner.name} joins by SST from ${donor.name}`;
  const jLog = cluster.logSinceStart(joiner);
  const dLog = readFrom(donor.errorLog, donorOffset);
  const context = `\n--- ${joiner.name} WSREP_SST ---\n${sstLines(jLog)}\n--- ${donor.name} ` +
    `WSREP_SST ---\n${sstLines(dLog)}`;
  assertEquals(cluster.joinType(joiner), "SST", `${step}: join type`);

  const jAddr = sstCommandAddresses(jLog).filter((a) => a.role === "joiner");
  const dAddr = sstCommandAddresses(dLog).filter((a) => a.role === "donor");
  assertEquals(
    jAddr.map((a) => a.address),
    [expect.joinerAddress],
    `${step}: --address mariadbd passed to the joiner script${context}`,
  );
  assert(
    dAddr.length === 1 &&
      new RegExp(`^${expect.donorAddressHost.replace(/\./g, "\\.")}:4444/`).test(dAddr[0].address),
    `${step}: --address mariadbd passed to the donor script should be ` +
      `${expect.donorAddressHost}:4444/…, got ${JSON.stringify(dAddr)}${context}`,
  );

  const ip = lab.host(joiner.name).ip;
  const ipRe = ip.replace(/\./g, "\\.");
  assert(
    new RegExp(`WSREP_SST: \\[INFO\\] .*listening on ${ipRe}\\b`).test(jLog),
    `${step}: the joiner should say it listens on its own address ${ip} (its SST address ` +
      `is local)${context}`,
  );
  // socat enforces the name given as commonname= (the command line is logged). With an IP as
  // SST address this proves the reverse mapping IP → name through the resolver.
  assert(
    new RegExp(
      `WSREP_SST: .*\\bOPENSSL:${expect.donorAddressHost.replace(/\./g, "\\.")}:4444,` +
        `.*\\bcommonname=${joiner.name}[,\\s]`,
    ).test(dLog),
    `${step}: the donor's socat should require the certificate name '${joiner.name}'` +
      (expect.reverseMapped ? ` (mapped from ${ip})` : "") + context,
  );
  const helpers = listeners.filter((l) => l.tag !== "mariadbd");
  assert(
    helpers.length === 1 && helpers[0].name === "socat" && helpers[0].local === `${ip}:4444` &&
      helpers[0].tag === joiner.name,
    `${step}: inside ${joiner.name}'s namespace only its socat may listen besides mariadbd, ` +
      `on ${ip}:4444; saw: ${
        listeners.map((l) => `${l.name}(pid ${l.pid}, ${l.tag ?? "?"}) ${l.local}`).join(", ")
      }`,
  );
  for (const n of cluster.nodes.filter((n) => n.running)) {
    assertEquals(
      (await cluster.waitHelpersGone(n)).map(describe),
      [],
      `${step}: no SST process of ${n.name} left 10 s after the SST`,
    );
    assertEquals(
      await waitNsOnly(lab, n.name, [n.pid!]),
      [],
      `${step}: nothing but mariadbd runs in ${n.name}'s namespace`,
    );
  }
  const warnings = [
    ...jLog.split("\n").filter((l) =>
      l.includes("WSREP_SST: [WARNING]") && !GALERA_PLAINTEXT.test(l)
    ).map((l) => `${joiner.name} (joiner): ${l}`),
    ...dLog.split("\n").filter((l) => l.includes("WSREP_SST: [WARNING]")).map((l) =>
      `${donor.name} (donor): ${l}`
    ),
  ];
  return {
    addresses: `joiner --address ${jAddr[0].address}, donor --address ${dAddr[0].address}`,
    warnings,
  };
}

Deno.test({
  name: "multi-host rsync_tunnel: 3 nodes in network namespaces, addressed by name, " +
    "certificate names verified; a wrongly named certificate is refused" +
    (SKIP ? ` (SKIPPED: ${SKIP})` : ""),
  ignore: SKIP !== null,
  async fn(t) {
    await requireLauncher();
    const lap = stopwatch();
    /** Runs a step; a failed step stops the scenario (later steps depend on its state). */
    const step = async (
      name: string,
      fn: () => void | Promise<void>,
      o: { ignore?: boolean } = {},
    ) => {
      const ok = await t.step({ name, fn, ignore: o.ignore ?? false });
      if (!ok && !o.ignore) throw new Error(`step failed: ${name} (see above)`);
    };
    await withLab(NAMES, async (lab) => {
      lap(`lab up: ${lab.hosts.map((h) => `${h.name}=${h.ip} (${h.ns})`).join(", ")}`);
      await step("names resolve inside the namespaces, forward and reverse", async () => {
        assertEquals(
          await lab.getent("node1", "node2"),
          ["10.77.0.12", "node2"],
          "inside node1: getent hosts node2",
        );
        assertEquals(
          await lab.getent("node1", "10.77.0.12"),
          ["10.77.0.12", "node2"],
          "inside node1: getent hosts 10.77.0.12",
        );
        const outside = await run(denoAdapter, { cmd: "getent", args: ["hosts", "node2"] }, {
          timeoutMs: 10_000,
        });
        assert(
          outside.code !== 0 || !outside.stdout.includes("10.77.0.12"),
          "the lab's names must not leak into the root namespace's /etc/hosts",
        );
      });

      let pki: Pki | null = null;
      await withCluster({
        size: 3,
        sstMethod: "rsync_tunnel",
        pathPrefix: LAUNCHER_DIR,
        placement: (name) => ({ host: name, standardPorts: true, wrap: lab.wrap(name) }),
        configure: async (node, cluster) => {
          pki ??= await makePki(`${cluster.root}/pki`);
          return nodeExtra(lab, pki, node, node.name);
        },
      }, async (cluster) => {
        const [n1, n2, n3] = cluster.nodes;
        const reports: JoinReport[] = [];

        await step("node1 bootstraps and gets data", async () => {
          cluster.start(n1, { newCluster: true });
          await cluster.waitSynced(n1, 60_000);
          await cluster.loadData(n1, { rows: 5000 });
          lap("node1 bootstrapped, data loaded");
        });

        /** `joiner` joins by SST from `donor`; {@link checkSstJoin} checks it. */
        const joinBySst = async (joiner: Node, donor: Node, expect: SstExpect) => {
          const off = fileSize(donor.errorLog);
          const j = await joinWatchedIn(cluster, lab, joiner);
          lap(`${joiner.name} joined (${j.seconds.toFixed(1)}s)`);
          reports.push(
            await checkSstJoin(cluster, lab, joiner, donor, off, j.listeners, expect),
          );
        };

        await step(
          "node2 joins by SST from node1 (SST address: the name node2)",
          () =>
            joinBySst(n2, n1, {
              joinerAddress: "node2",
              donorAddressHost: "node2",
              reverseMapped: false,
            }),
        );

        await step("node3 joins by SST from node2 (SST address: its IP)", async () => {
          await joinBySst(n3, n2, {
            joinerAddress: "10.77.0.13",
            donorAddressHost: "10.77.0.13",
            reverseMapped: true,
          });
          assertEquals(await cluster.status(n1, "wsrep_cluster_size"), "3", "cluster size");
        });

        await step("checksums equal on all three nodes", async () => {
          const sums = await Promise.all(cluster.nodes.map((n) => cluster.checksums(n)));
          assertEquals(Object.keys(sums[0]).length, 4, "checksums cover the 4 test tables");
          assertEquals(diffMaps(sums[0], sums[1]), [], "node2 has node1's data");
          assertEquals(diffMaps(sums[0], sums[2]), [], "node3 has node1's data");
          lap("checksums equal on node1, node2, node3");
        });
        console.error(
          `  --address values: node2: ${reports[0].addresses}; node3: ${reports[1].addresses}`,
        );

        await step("successful SSTs log no WSREP_SST warning", () => {
          const warnings = reports.flatMap((r) => r.warnings);
          assertEquals(warnings, [], "WSREP_SST warnings during the two successful SSTs");
        });

        await step(
          `node3 with a certificate issued for ${WRONG_NAME} is refused by its donor`,
          async () => {
            const step = `node3 rejoin with a ${WRONG_NAME} certificate`;
            await cluster.stop(n3);
            await cluster.wipe(n3);
            await cluster.writeConfig(n3, nodeExtra(lab, pki!, n3, WRONG_NAME));
            const off = fileSize(n2.errorLog);
            cluster.start(n3);
            const errorRe = new RegExp(
              String.raw`WSREP_SST: \[ERROR\] .*certificate of joiner 10\.77\.0\.13:4444\b.*` +
                String.raw`is not issued for .*\bnode3\b`,
            );
            // Bounded: the donor's ERROR, then node3's mariadbd gives up (it cannot join).
            const deadline = Date.now() + JOIN_TIMEOUT_MS;
            while (!errorRe.test(readFrom(n2.errorLog, off)) && Date.now() < deadline) {
              if (await cluster.status(n3, "wsrep_local_state_comment") === "Synced") break;
              await sleep(250);
            }
            const dLog = readFrom(n2.errorLog, off);
            const jLog = cluster.logSinceStart(n3);
            const context = `\n--- node2 (donor) WSREP_SST ---\n${sstLines(dLog)}\n--- node3 ` +
              `(joiner) log tail ---\n${cluster.errorLogTail(n3, 30)}`;
            assert(
              errorRe.test(dLog),
              `${step}: node2's log should carry one ERROR naming the name mismatch${context}`,
            );
            const errors = dLog.split("\n").filter((l) => /WSREP_SST: \[ERROR\]/.test(l));
            lap(`donor refused node3: ${errors[0]?.replace(/^.*WSREP_SST: /, "")}`);
            assertEquals(errors.length, 1, `${step}: exactly one WSREP_SST ERROR on node2`);
            assert(
              n3.child !== null && await settlesWithin(n3.child.status, 60_000),
              `${step}: node3's mariadbd should give up after the failed SST${context}`,
            );
            assert(
              !/WSREP: SST succeeded/.test(jLog),
              `${step}: node3 must not report a successful SST${context}`,
            );
            await cluster.waitSynced(n2, 30_000);
            assertEquals(await cluster.status(n1, "wsrep_cluster_size"), "2", "cluster size");
            for (const n of cluster.nodes) {
              assertEquals(
                (await cluster.waitHelpersGone(n)).map(describe),
                [],
                `${step}: no SST process of ${n.name} left`,
              );
              assertEquals(
                await waitNsOnly(lab, n.name, n.running ? [n.pid!] : []),
                [],
                `${step}: nothing but mariadbd runs in ${n.name}'s namespace`,
              );
            }
            lap("node3 stopped after the refused SST; node1, node2 Synced; nothing left");
          },
        );

        await cluster.stop(n2);
        await cluster.stop(n1);
        lap("nodes stopped cleanly");
      });
    });
    lap("cluster and lab torn down");
  },
});
