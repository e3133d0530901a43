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
import { type Cluster, type Node, pickFreePorts } from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { type ClusterCase, clusterTest, sstOfNode2 } from "./support/cluster_case.ts";
import { nodeTag } from "./support/flows.ts";
import {
  type Listener,
  listListeners,
  watchListeners,
  whileWatching,
} from "./support/listeners.ts";
import {
  joinNode,
  type JoinOptions,
  type JoinReport,
  LAUNCHER_DIR,
  makeMysqlDirs,
  waitPortFree,
  withMysqld,
} from "./support/scenario_kit.ts";
import { denoAdapter, run } from "../../src/proc/process.ts";
import { listenerNeedsEmptyCommonName } from "../../src/tunnel/socat_address.ts";

const ROWS = 1000;

/** A configuration case: its name says what it proves; {@link clusterTest} runs it. */
type ConfigCase = Omit<ClusterCase, "rows">;

/** Joins like {@link joinNode} and records the TCP listeners that appeared meanwhile. */
async function joinWatched(
  cluster: Cluster,
  node: Node,
  opts: JoinOptions,
): Promise<{ report: JoinReport; listeners: Listener[] }> {
  const watch = watchListeners(await listListeners(), nodeTag(cluster));
  const { result: report, listeners } = await whileWatching(
    watch,
    () => joinNode(cluster, node, opts),
  );
  return { report, listeners };
}

/** The joiner's socat listeners seen during a join. */
function socatOf(node: Node, listeners: Listener[]): string[] {
  // One address once: a child that socat forks for a connection holds the listening socket
  // until it closes it, so ss may show the same socket under two PIDs.
  const ours = listeners.filter((l) => l.name === "socat" && l.tag === node.name);
  return [...new Set(ours.map((l) => l.local))];
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

const decoysAndAddresses: ConfigCase = {
  name: "config: decoy groups, host name with a non-default port, AUTO, [sst] via !includedir",
  label: "config",
  // [sst] first, decoys after it: a reader taking the last value of any group would pick a
  // decoy (files that do not exist).
  node: (_node, cluster) => ({ groups: DECOYS(`${cluster.root}/no-such-dir`) }),
  run: async ({ cluster, n1, n2, configs, lap, t }) => {
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
        const { sst = [], ...groups } = configs.get(n).groups ?? {};
        await makeMysqlDirs(dir);
        await Deno.writeTextFile(`${dir}/50-sst.cnf`, `[sst]\n${sst.join("\n")}\n`);
        await Deno.writeTextFile(`${dir}/README`, "[sst]\ntcert=/not/a/cnf/file\n");
        await configs.rewrite(cluster, n, (e) => ({
          ...e,
          mysqld: [...(e.mysqld ?? []).filter((l) => !l.startsWith("!")), `!includedir ${dir}`],
          groups,
        }));
        const text = await Deno.readTextFile(n.cnf);
        assert(!/^\[sst\]$/m.test(text), `${n.name}'s option file has no [sst] group itself`);
      }
      await rejoin(["wsrep_sst_receive_address=127.0.0.1:" + n2.sstPort], "!includedir");
    });
  },
};

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
 * Fills `dir` (first in mariadbd's PATH) with a `wsrep_sst_rsync_tunnel` that runs our
 * launcher; once a file `hosts` exists there, the donor role runs inside a private mount
 * namespace where that file replaces /etc/hosts (the joiner always runs unchanged).
 */
async function hostsWrapper(dir: string): Promise<void> {
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
}

const DEBIAN_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
  "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/** socat 1.7.4.0 or 1.7.4.1, whose TLS listener needs the joiner's workaround. */
async function oldSocat(): Promise<boolean> {
  const r = await run(denoAdapter, { cmd: "socat", args: ["-V"] }, { timeoutMs: 10_000 });
  return listenerNeedsEmptyCommonName(/socat version (\S+)/.exec(r.stdout)?.[1] ?? "");
}

const ipv6: ConfigCase = {
  name: "config: an IPv6 cluster on [::1] with IP:::1 certificates (SST, IST; Debian /etc/hosts)",
  label: "ipv6",
  // socat 1.7.4.0/1.7.4.1 (Debian 11) cannot check a donor certificate whose first
  // subjectAltName is an IPv6 address (README): there the DNS entry comes first.
  certs: { cn: "localhost", sans: (await oldSocat()) ? ["DNS:localhost", "IP:::1"] : ["IP:::1"] },
  programDir: hostsWrapper,
  node: (node, cluster) => ({ mysqld: ipv6Lines(node, cluster) }),
  run: async ({ cluster, n1, n2, lap, t }) => {
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
        const hosts = `${cluster.pathPrefix}/hosts`;
        await Deno.writeTextFile(hosts, DEBIAN_HOSTS);
        await Deno.chmod(hosts, 0o644);
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
  },
};

// ---------------------------------------------------------------------------------------------

const SUFFIX = ["--defaults-group-suffix=.x"];

const groupSuffix: ConfigCase = {
  name: "config: --defaults-group-suffix=.x with tca/tcert/tkey only in [sst.x]",
  label: "suffix",
  tlsGroup: "sst.x",
  defaultsArgs: SUFFIX,
  run: sstOfNode2({
    tables: 4,
    defaultsArgs: SUFFIX,
    before: async ({ n1, n2 }) => {
      for (const n of [n1, n2]) {
        const text = await Deno.readTextFile(n.cnf);
        assert(!/^\[sst\]$/m.test(text) && /^\[sst\.x\]$/m.test(text), "only [sst.x]");
      }
    },
    after: (_s, r) => {
      // (11.8 no longer logs the script's command line: our own TLS line names the group.)
      for (const log of [r.joinerLog, r.otherLogs.get("node1") ?? ""]) {
        assert(
          /WSREP_SST: \[INFO\] TLS: certificate \S+ from \S+:\d+ \[sst\.x\] tcert/.test(log),
          "mariadbd passed the suffix to our program, which took tcert from [sst.x]",
        );
      }
    },
  }),
};

// ---------------------------------------------------------------------------------------------

const gtidDomain: ConfigCase = {
  name: "config: wsrep_gtid_mode=ON, wsrep_gtid_domain_id=7 on the donor: the joiner adopts 7",
  label: "gtid",
  node: (node) => ({
    mysqld: [
      "wsrep_gtid_mode=ON",
      `gtid_domain_id=${node.index}`,
      `server_id=${node.index}`,
      // Only node1 names the Galera domain; node2 must take it over from the SST.
      ...(node.index === 1 ? ["wsrep_gtid_domain_id=7"] : []),
    ],
  }),
  run: sstOfNode2({
    tables: 4,
    before: async ({ cluster, n1 }) => {
      assertEquals(await cluster.sql(n1, "SELECT @@wsrep_gtid_domain_id"), [["7"]], "node1");
    },
    after: async ({ cluster, n1, n2 }, r) => {
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
    },
  }),
};

// ---------------------------------------------------------------------------------------------

/** Every configuration case; each runs on a cluster of its own. */
const CASES = [decoysAndAddresses, ipv6, groupSuffix, gtidDomain];

for (const c of CASES) clusterTest({ rows: ROWS, ...c });
