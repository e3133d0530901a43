/**
 * Addresses and option files under `wsrep_sst_method=rsync_tunnel` with real mariadbd/Galera
 * nodes (our program found through PATH from `dist/bin`; run `deno task build` first). Every
 * join checks the join type, our program on both sides, checksums and no helper left.
 *
 * - One IPv4 cluster, successive SSTs of node2: decoy TLS values in groups we must not read
 *   (`[client]`, `[mysql]`, `[mariadb-client]`, `[sst.other]`); a host name with a
 *   non-default port (`wsrep_sst_receive_address=localhost:<port>`); `AUTO`; the `[sst]` group
 *   only in a file of an `!includedir` directory.
 * - An IPv6 cluster on `::1` (certificates with `IP:::1` only): SST and IST; then the same with
 *   Debian's `/etc/hosts` for the donor, where `::1` reverse-resolves to `localhost`.
 * - `--defaults-group-suffix=.x` with the TLS settings only in `[sst.x]`.
 * - `wsrep_gtid_mode=ON`, `wsrep_gtid_domain_id=7` on the donor only: the joiner adopts 7.
 */
import {
  type Cluster,
  type ClusterOptions,
  type Node,
  type NodeExtra,
  pickFreePorts,
  withCluster,
} from "./cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { type Listener, listListeners, watchListeners } from "./support/listeners.ts";
import {
  certificates,
  type CertOptions,
  joinNode,
  type JoinOptions,
  type JoinReport,
  LAUNCHER_DIR,
  makeMysqlDirs,
  NodeConfigs,
  requireLauncher,
  sstLines,
  startWithDefaults,
  stopwatch,
  waitPortFree,
  withMysqld,
} from "./support/scenario_kit.ts";
import { denoAdapter, run } from "../../src/proc/process.ts";
import { listenerNeedsEmptyCommonName } from "../../src/tunnel/socat_address.ts";

const ROWS = 1000;

function tlsCluster(
  configs: NodeConfigs,
  extra: (node: Node, cluster: Cluster, sst: string[]) => Promise<NodeExtra> | NodeExtra,
  certOpts: CertOptions = {},
  more: Partial<ClusterOptions> = {},
): ClusterOptions {
  const certs = certificates(certOpts);
  return {
    size: 2,
    sstMethod: "rsync_tunnel",
    pathPrefix: LAUNCHER_DIR,
    ...more,
    configure: configs.capture(async (node, cluster) =>
      extra(node, cluster, sstLines(await certs(node, cluster)))
    ),
  };
}

async function bootstrap(cluster: Cluster, defaultsArgs?: string[]): Promise<void> {
  const n1 = cluster.node(1);
  if (defaultsArgs) startWithDefaults(cluster, n1, defaultsArgs, { newCluster: true });
  else cluster.start(n1, { newCluster: true });
  await cluster.waitSynced(n1, 60_000);
  await cluster.loadData(n1, { rows: ROWS });
}

/** Joins like {@link joinNode} and records the TCP listeners that appeared meanwhile. */
async function joinWatched(
  cluster: Cluster,
  node: Node,
  opts: JoinOptions,
): Promise<{ report: JoinReport; listeners: Listener[] }> {
  const watch = watchListeners(await listListeners(), (l) => {
    const owner = cluster.ownerOf(l.pid);
    return owner ? (owner.pid === l.pid ? `${owner.name}:mariadbd` : owner.name) : undefined;
  });
  let report: JoinReport | null = null;
  let failure: unknown = null;
  try {
    report = await joinNode(cluster, node, opts);
  } catch (e) {
    failure = e;
  }
  const listeners = await watch.stop().catch((e) => {
    failure ??= e;
    return [];
  });
  if (failure || !report) throw failure;
  return { report, listeners };
}

/** The joiner's socat listeners seen during a join. */
function socatOf(node: Node, listeners: Listener[]): string[] {
  return listeners.filter((l) => l.name === "socat" && l.tag === node.name).map((l) => l.local);
}

/** The `--address` mariadbd gave our joiner, from its "Running:" log line. */
function joinerAddress(log: string): string | undefined {
  return /Running: 'wsrep_sst_rsync_tunnel --role 'joiner' --address '([^']*)'/.exec(log)?.[1];
}

/** The certificate name our donor expected, from its log. */
function donorPeerName(log: string): string | undefined {
  return /SST started on donor: to \S+ \(certificate name must be '([^']*)'\)/.exec(log)?.[1];
}

// ---------------------------------------------------------------------------------------------

const DECOYS = (wrong: string) => ({
  client: [`tca=${wrong}/ca.crt`, `tcert=${wrong}/client.crt`, `tkey=${wrong}/client.key`],
  mysql: [`tcert=${wrong}/mysql.crt`, `tkey=${wrong}/mysql.key`],
  "mariadb-client": [`tcert=${wrong}/mariadb-client.crt`],
  "sst.other": [`tca=${wrong}/other-ca.crt`, `tcert=${wrong}/other.crt`, `tkey=${wrong}/o.key`],
});

Deno.test({
  name: "config: decoy groups, host name with a non-default port, AUTO, [sst] via !includedir",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await requireLauncher();
    const configs = new NodeConfigs();
    const sstOf = new Map<string, string[]>();
    await withCluster(
      tlsCluster(configs, (node, cluster, sst) => {
        sstOf.set(node.name, sst);
        // [sst] first, decoys after it: a reader taking the last value of any group would
        // pick a decoy (files that do not exist).
        return { groups: { sst, ...DECOYS(`${cluster.root}/no-such-dir`) } };
      }),
      async (cluster) => {
        const lap = stopwatch("config");
        const [n1, n2] = cluster.nodes;
        await bootstrap(cluster);
        lap("node1 bootstrapped");

        await t.step(
          "decoy tca/tcert/tkey in [client], [mysql], [mariadb-client], [sst.other]",
          async () => {
            const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: 4 });
            for (const log of [r.joinerLog, r.otherLogs.get("node1") ?? ""]) {
              assert(!/no-such-dir/.test(log), "no decoy path appears in the logs");
            }
            lap(`node2 joined by SST with decoys around (${r.seconds.toFixed(1)}s)`);
          },
        );

        const rejoin = async (mysqld: string[], step: string) => {
          await cluster.stop(n2);
          await cluster.wipe(n2);
          await configs.rewrite(cluster, n2, (e) => withMysqld(e, mysqld));
          await cluster.writeMore(n1, Math.floor(Math.random() * 1000) + 1, 100);
          const r = await joinWatched(cluster, n2, { expect: "SST", donor: n1, tables: 4 });
          lap(`${step}: node2 joined by SST (${r.report.seconds.toFixed(1)}s)`);
          return r;
        };

        await t.step("wsrep_sst_receive_address=localhost:<non-default port>", async () => {
          const [port] = pickFreePorts(1);
          const { report, listeners } = await rejoin(
            [`wsrep_sst_receive_address=localhost:${port}`],
            "host name",
          );
          assertEquals(joinerAddress(report.joinerLog), `localhost:${port}`, "joiner --address");
          assertEquals(socatOf(n2, listeners), [`127.0.0.1:${port}`], "node2's socat listened");
          assertEquals(
            donorPeerName(report.otherLogs.get("node1") ?? ""),
            "localhost",
            "the donor checked the joiner's certificate for the host name",
          );
        });

        await t.step("wsrep_sst_receive_address=AUTO", async () => {
          await waitPortFree(4444);
          const { report, listeners } = await rejoin(["wsrep_sst_receive_address=AUTO"], "AUTO");
          const addr = joinerAddress(report.joinerLog);
          lap(`AUTO: mariadbd gave the joiner --address '${addr}'`);
          assert(addr !== undefined && addr !== "AUTO", `mariadbd guessed an address: ${addr}`);
          const socat = socatOf(n2, listeners);
          assert(
            socat.length === 1 && socat[0].endsWith(":4444"),
            `node2's socat listened on the default port 4444: ${socat}`,
          );
        });

        await t.step("[sst] only in a file of an !includedir directory (both nodes)", async () => {
          for (const n of [n1, n2]) {
            const dir = `${n.dir}/conf.d`;
            await makeMysqlDirs(dir);
            await Deno.writeTextFile(
              `${dir}/50-sst.cnf`,
              `[sst]\n${sstOf.get(n.name)!.join("\n")}\n`,
            );
            await Deno.writeTextFile(`${dir}/README`, "[sst]\ntcert=/not/a/cnf/file\n");
            await configs.rewrite(cluster, n, (e) => {
              const { sst: _dropped, ...groups } = e.groups ?? {};
              return {
                ...e,
                mysqld: [
                  ...(e.mysqld ?? []).filter((l) => !l.startsWith("!")),
                  `!includedir ${dir}`,
                ],
                groups,
              };
            });
            const text = await Deno.readTextFile(n.cnf);
            assert(!/^\[sst\]$/m.test(text), `${n.name}'s option file has no [sst] group itself`);
          }
          await rejoin(["wsrep_sst_receive_address=127.0.0.1:" + n2.sstPort], "!includedir");
        });

        await cluster.stop(n2);
        await cluster.stop(n1);
      },
    );
  },
});

// ---------------------------------------------------------------------------------------------

function ipv6Lines(node: Node, cluster: Cluster): string[] {
  const provider = [
    `base_port=${node.galeraPort}`,
    `gmcast.listen_addr=tcp://[::1]:${node.galeraPort}`,
    `ist.recv_addr=[::1]:${node.istPort}`,
    "gcache.size=32M",
  ].join(";");
  return [
    "bind_address=::1",
    `wsrep_cluster_address=gcomm://${cluster.nodes.map((n) => `[::1]:${n.galeraPort}`).join(",")}`,
    `wsrep_node_address=[::1]:${node.galeraPort}`,
    `wsrep_node_incoming_address=[::1]:${node.port}`,
    `wsrep_sst_receive_address=[::1]:${node.sstPort}`,
    `wsrep_provider_options="${provider}"`,
  ];
}

/** Can the mysql user make a private mount namespace (to give the donor its own /etc/hosts)? */
async function canUnshare(): Promise<boolean> {
  const r = await run(denoAdapter, {
    cmd: "runuser",
    args: ["-u", "mysql", "--", "unshare", "-U", "-r", "-m", "true"],
  }, { timeoutMs: 10_000 }).catch(() => null);
  return r?.code === 0;
}

/**
 * A temporary PATH directory whose `wsrep_sst_rsync_tunnel` runs our launcher; once a file
 * `hosts` exists there, the donor role runs inside a private mount namespace where that file
 * replaces /etc/hosts (the joiner always runs unchanged).
 */
async function wrapperDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "e2e-sst-wrapper-" });
  const launcher = `${LAUNCHER_DIR}/wsrep_sst_rsync_tunnel`;
  await Deno.writeTextFile(
    `${dir}/wsrep_sst_rsync_tunnel`,
    `#!/bin/sh
hosts='${dir}/hosts'
if [ -f "$hosts" ]; then
  case " $* " in
  *" --role donor "*)
    exec unshare -U -r -m sh -c 'mount --bind "$0" /etc/hosts &&
      echo "e2e wrapper: getent hosts ::1 gives: $(getent hosts ::1)" >&2 && exec "$@"' \\
      "$hosts" '${launcher}' "$@" ;;
  esac
fi
exec '${launcher}' "$@"
`,
  );
  await Deno.chmod(`${dir}/wsrep_sst_rsync_tunnel`, 0o755);
  await Deno.chmod(dir, 0o755);
  return dir;
}

const DEBIAN_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
  "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/** socat 1.7.4.0 or 1.7.4.1, whose TLS listener needs the joiner's workaround. */
async function oldSocat(): Promise<boolean> {
  const r = await run(denoAdapter, { cmd: "socat", args: ["-V"] }, { timeoutMs: 10_000 });
  return listenerNeedsEmptyCommonName(/socat version (\S+)/.exec(r.stdout)?.[1] ?? "");
}

Deno.test({
  name: "config: an IPv6 cluster on [::1] with IP:::1 certificates (SST, IST; Debian /etc/hosts)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await requireLauncher();
    const configs = new NodeConfigs();
    const bin = await wrapperDir();
    try {
      await withCluster(
        tlsCluster(
          configs,
          (node, cluster, sst) => ({ mysqld: ipv6Lines(node, cluster), groups: { sst } }),
          // socat 1.7.4.0/1.7.4.1 (Debian 11) cannot check a donor certificate whose first
          // subjectAltName is an IPv6 address (README): there the DNS entry comes first.
          { cn: "localhost", sans: (await oldSocat()) ? ["DNS:localhost", "IP:::1"] : ["IP:::1"] },
          { pathPrefix: bin },
        ),
        async (cluster) => {
          const lap = stopwatch("ipv6");
          const [n1, n2] = cluster.nodes;
          await bootstrap(cluster);
          lap("node1 bootstrapped on [::1]");

          await t.step("SST and IST over [::1] (this host's resolver)", async () => {
            const { report, listeners } = await joinWatched(cluster, n2, {
              expect: "SST",
              donor: n1,
              tables: 4,
            });
            assertEquals(joinerAddress(report.joinerLog), `[::1]:${n2.sstPort}`, "--address");
            assertEquals(socatOf(n2, listeners), [`[::1]:${n2.sstPort}`], "socat on [::1]");
            const name = donorPeerName(report.otherLogs.get("node1") ?? "");
            lap(`node2 joined by SST (${report.seconds.toFixed(1)}s); donor expected '${name}'`);
            assertEquals(name, "::1", "the donor checks the joiner's certificate for ::1");
            await cluster.stop(n2);
            await cluster.writeMore(n1, 1, 100);
            const ist = await joinNode(cluster, n2, { expect: "IST", tables: 4 });
            lap(`node2 rejoined by IST (${ist.seconds.toFixed(1)}s)`);
          });

          await t.step({
            name: "SST over [::1] with Debian's /etc/hosts on the donor (::1 → localhost)",
            ignore: !(await canUnshare()),
            fn: async () => {
              await Deno.writeTextFile(`${bin}/hosts`, DEBIAN_HOSTS);
              await Deno.chmod(`${bin}/hosts`, 0o644);
              await cluster.stop(n2);
              await cluster.wipe(n2);
              await cluster.writeMore(n1, 2, 100);
              const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: 4 });
              const donorLog = r.otherLogs.get("node1") ?? "";
              assert(
                /e2e wrapper: getent hosts ::1 gives: ::1\s+localhost ip6-localhost/.test(donorLog),
                "the donor ran with Debian's /etc/hosts",
              );
              const name = donorPeerName(donorLog);
              lap(`node2 joined by SST (${r.seconds.toFixed(1)}s); donor expected '${name}'`);
              // ::1 reverse-resolves to localhost (which the CN carries), but socat 1.7.4 would
              // resolve "localhost" as IPv6 against the IP:::1 SAN: the IP must be chosen.
              assertEquals(name, "::1", "the donor checks the joiner's certificate for ::1");
            },
          });

          await cluster.stop(n2);
          await cluster.stop(n1);
        },
      );
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------------------------------------

Deno.test({
  name: "config: --defaults-group-suffix=.x with tca/tcert/tkey only in [sst.x]",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await requireLauncher();
    const configs = new NodeConfigs();
    const suffix = ["--defaults-group-suffix=.x"];
    await withCluster(
      tlsCluster(configs, (_node, _cluster, sst) => ({ groups: { "sst.x": sst } })),
      async (cluster) => {
        const lap = stopwatch("suffix");
        const [n1, n2] = cluster.nodes;
        for (const n of [n1, n2]) {
          const text = await Deno.readTextFile(n.cnf);
          assert(!/^\[sst\]$/m.test(text) && /^\[sst\.x\]$/m.test(text), "only [sst.x]");
        }
        await bootstrap(cluster, suffix);
        const r = await joinNode(cluster, n2, {
          expect: "SST",
          donor: n1,
          tables: 4,
          defaultsArgs: suffix,
        });
        // (11.8 no longer logs the script's command line: our own TLS line names the group.)
        for (const log of [r.joinerLog, r.otherLogs.get("node1") ?? ""]) {
          assert(
            /WSREP_SST: \[INFO\] TLS: certificate \S+ from \S+:\d+ \[sst\.x\] tcert/.test(log),
            "mariadbd passed the suffix to our program, which took tcert from [sst.x]",
          );
        }
        lap(`node2 joined by SST (${r.seconds.toFixed(1)}s)`);
        await cluster.stop(n2);
        await cluster.stop(n1);
      },
    );
  },
});

// ---------------------------------------------------------------------------------------------

Deno.test({
  name: "config: wsrep_gtid_mode=ON, wsrep_gtid_domain_id=7 on the donor: the joiner adopts 7",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await requireLauncher();
    const configs = new NodeConfigs();
    await withCluster(
      tlsCluster(configs, (node, _cluster, sst) => ({
        mysqld: [
          "wsrep_gtid_mode=ON",
          `gtid_domain_id=${node.index}`,
          `server_id=${node.index}`,
          // Only node1 names the Galera domain; node2 must take it over from the SST.
          ...(node.index === 1 ? ["wsrep_gtid_domain_id=7"] : []),
        ],
        groups: { sst },
      })),
      async (cluster) => {
        const lap = stopwatch("gtid");
        const [n1, n2] = cluster.nodes;
        await bootstrap(cluster);
        assertEquals(await cluster.sql(n1, "SELECT @@wsrep_gtid_domain_id"), [["7"]], "node1");
        const r = await joinNode(cluster, n2, { expect: "SST", donor: n1, tables: 4 });
        lap(`node2 joined by SST (${r.seconds.toFixed(1)}s)`);
        assert(
          /WSREP_SST: \[INFO\] SST complete on joiner: state \S+:\d+ 7\b/.test(r.joinerLog),
          "our joiner handed over domain 7",
        );
        assertEquals(
          await cluster.sql(n2, "SELECT @@wsrep_gtid_domain_id"),
          [["7"]],
          "node2 adopted wsrep_gtid_domain_id=7 from the SST",
        );
        await cluster.writeMore(n2, 1, 50);
        await cluster.writeMore(n1, 2, 50);
        for (const n of [n1, n2]) {
          const [[pos]] = await cluster.sql(n, "SELECT @@gtid_binlog_pos");
          assert(/(^|,)7-/.test(pos), `${n.name}'s binlog position is in domain 7: ${pos}`);
        }
        await cluster.stop(n2);
        await cluster.stop(n1);
      },
    );
  },
});
