/**
 * The stock scripts' TLS vocabulary under `wsrep_sst_method=rsync_tunnel`, with real
 * mariadbd/Galera nodes (our program found through PATH from `dist/bin`; run `deno task build`
 * first). One 2-node cluster; node2 is wiped and joins node1 by SST once per step, with both
 * nodes' option files rewritten before each join (the donor's SST program reads them afresh):
 *
 * 1. stock-style `ssl-ca`/`ssl-cert`/`ssl-key` in `[mysqld]` only, no `[sst]` TLS key;
 * 2. role keys: the general `ssl-cert`/`ssl-key` name missing files, and only the joiner's
 *    `loose-ssl-server-*` and the donor's `loose-ssl-client-*` make the SST work (each node
 *    also has the other role's keys pointing at missing files);
 * 3. a hashed CA directory given as `tca`;
 * 4. node2 with a certificate issued for another name: `ssl-mode=VERIFY_CA` joins (the donor
 *    logs that the name is not checked), the default VERIFY_IDENTITY refuses the same
 *    certificate (one ERROR on the donor, node2 does not join);
 * 5. `ssl-mode=REQUIRED` with that certificate: joins, with the WARNING on both nodes;
 * 6. `ssl-mode=DISABLED` on node2: its joiner stops with one ERROR naming the option's file,
 *    line and key, exit 22, and nothing listens.
 */
import {
  chownMysql,
  type Cluster,
  type Node,
  type NodeExtra,
  withCluster,
} from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { type Listener, listListeners, watchListeners } from "./support/listeners.ts";
import {
  joinNode,
  type JoinReport,
  LAUNCHER_DIR,
  logFrom,
  logMark,
  NodeConfigs,
  requireLauncher,
  sstLinesOf,
  stopwatch,
} from "./support/scenario_kit.ts";
import { type Ca, type Leaf, makeCa, makeCaDir, makeLeaf } from "../../scripts/lib/pki.ts";
import { settlesWithin } from "../../src/proc/process.ts";
import { GALERA_PLAINTEXT } from "../support/log_lines.ts";

/** The test PKI: one CA, a certificate per node for localhost/127.0.0.1, one for another name. */
interface Pki {
  dir: string;
  ca: Ca;
  caDir: string;
  leaf: Record<string, Leaf>;
  /** node2's certificate issued for `elsewhere.example` only. */
  wrongName: Leaf;
  /** A path that does not exist. */
  missing: string;
}

const LOCAL = { cn: "localhost", sans: ["DNS:localhost", "IP:127.0.0.1"] };

function pkiMaker(): (cluster: Cluster) => Promise<Pki> {
  let made: Promise<Pki> | null = null;
  return (cluster) =>
    made ??= (async () => {
      const dir = `${cluster.root}/pki`;
      await Deno.mkdir(dir, { recursive: true });
      const ca = await makeCa(dir, "vocab-ca");
      const leaf: Record<string, Leaf> = {};
      for (const n of cluster.nodes) leaf[n.name] = await makeLeaf(dir, ca, n.name, LOCAL);
      const wrongName = await makeLeaf(dir, ca, "node2-elsewhere", {
        cn: "elsewhere.example",
        sans: ["DNS:elsewhere.example"],
      });
      const caDir = await makeCaDir(dir, "ca-dir", [ca], true);
      await chownMysql(dir);
      return { dir, ca, caDir, leaf, wrongName, missing: `${dir}/no-such-file.pem` };
    })();
}

/** The legacy `[sst]` lines for `leaf`. */
function legacy(pki: Pki, leaf: Leaf): string[] {
  return [`tca=${pki.ca.cert}`, `tcert=${leaf.cert}`, `tkey=${leaf.key}`];
}

/** node's option-file extra with these `[mysqld]` additions and this `[sst]` group. */
function tlsExtra(mysqld: string[], sst: string[]): NodeExtra {
  return { mysqld, groups: sst.length > 0 ? { sst } : {} };
}

function warningsOf(log: string): string[] {
  return log.split("\n").filter((l) =>
    /WSREP_SST: \[WARNING\]/.test(l) && !GALERA_PLAINTEXT.test(l)
  );
}

function errorsOf(log: string): string[] {
  return log.split("\n").filter((l) => /WSREP_SST: \[ERROR\]/.test(l));
}

Deno.test({
  name: "ssl vocabulary: ssl-* in [mysqld], role keys, CA directory, ssl-mode VERIFY_CA / " +
    "VERIFY_IDENTITY / REQUIRED / DISABLED",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await requireLauncher();
    const configs = new NodeConfigs();
    const pkiOf = pkiMaker();
    await withCluster(
      {
        size: 2,
        sstMethod: "rsync_tunnel",
        pathPrefix: LAUNCHER_DIR,
        configure: configs.capture(async (node, cluster) => {
          const pki = await pkiOf(cluster);
          return tlsExtra([], legacy(pki, pki.leaf[node.name]));
        }),
      },
      async (cluster) => {
        const lap = stopwatch("ssl-vocabulary");
        const [n1, n2] = cluster.nodes;
        const pki = await pkiOf(cluster);
        cluster.start(n1, { newCluster: true });
        await cluster.waitSynced(n1, 60_000);
        await cluster.loadData(n1, { rows: 1000 });
        lap("node1 bootstrapped ([sst] tca/tcert/tkey)");

        let round = 0;
        /** Rewrites both nodes' TLS settings, wipes node2 and makes it join node1 by SST. */
        const rejoin = async (
          tls: (n: Node) => NodeExtra,
          step: string,
        ): Promise<JoinReport & { donorLog: string }> => {
          await cluster.stop(n2);
          await cluster.wipe(n2);
          for (const n of [n1, n2]) await configs.rewrite(cluster, n, () => tls(n));
          await cluster.writeMore(n1, ++round, 100);
          const r = await joinNode(cluster, n2, { expect: "SST", donor: n1 });
          lap(`${step}: node2 joined by SST (${r.seconds.toFixed(1)}s)`);
          return { ...r, donorLog: r.otherLogs.get(n1.name) ?? "" };
        };

        /**
         * Rewrites the TLS settings, wipes node2 and starts it; waits (bounded) until its
         * mariadbd gives up. Returns both nodes' logs and the listeners seen meanwhile.
         */
        const failedJoin = async (tls: (n: Node) => NodeExtra, step: string) => {
          await cluster.stop(n2);
          await cluster.wipe(n2);
          for (const n of [n1, n2]) await configs.rewrite(cluster, n, () => tls(n));
          const off = logMark(n1);
          const watch = watchListeners(await listListeners(), (l) => {
            const owner = cluster.ownerOf(l.pid);
            return owner
              ? (owner.pid === l.pid ? `${owner.name}:mariadbd` : owner.name)
              : undefined;
          });
          cluster.start(n2);
          const gaveUp = n2.child !== null && await settlesWithin(n2.child.status, 120_000);
          const listeners: Listener[] = await watch.stop();
          const joinerLog = cluster.logSinceStart(n2);
          const donorLog = logFrom(n1, off);
          const context = `\n--- node1 (donor) ---\n${sstLinesOf(donorLog).join("\n")}\n` +
            `--- node2 (joiner) ---\n${sstLinesOf(joinerLog).join("\n")}`;
          assert(gaveUp, `${step}: node2's mariadbd should give up${context}`);
          assert(!/WSREP: SST succeeded/.test(joinerLog), `${step}: no SST succeeded${context}`);
          await cluster.waitSynced(n1, 30_000);
          for (const n of cluster.nodes) {
            assertEquals((await cluster.waitHelpersGone(n)).length, 0, `${step}: ${n.name} clean`);
          }
          lap(`${step}: node2 did not join; node1 Synced, nothing left`);
          return { joinerLog, donorLog, listeners, context };
        };

        await t.step("stock-style ssl-ca/ssl-cert/ssl-key in [mysqld] only", async () => {
          const r = await rejoin((n) =>
            tlsExtra([
              `ssl-ca=${pki.ca.cert}`,
              `ssl-cert=${pki.leaf[n.name].cert}`,
              `ssl-key=${pki.leaf[n.name].key}`,
            ], []), "[mysqld] ssl-*");
          for (const [who, log] of [["joiner", r.joinerLog], ["donor", r.donorLog]]) {
            assert(
              new RegExp(
                `WSREP_SST: \\[INFO\\] TLS: certificate ${
                  pki.leaf[
                    who === "joiner" ? n2.name : n1.name
                  ].cert
                } .*trusted CAs ${pki.ca.cert} from \\S+:\\d+ \\[mysqld\\] ssl[-_]ca, ` +
                  `ssl-mode=VERIFY_IDENTITY \\(default\\)`,
              )
                .test(log),
              `${who} used the [mysqld] ssl-* files with the default mode`,
            );
            assertEquals(warningsOf(log), [], `${who}: a clean SST logs no WSREP_SST warning`);
          }
          // Addressed by 127.0.0.1: the certificate's IP:127.0.0.1 entry is checked first.
          assert(/certificate name must be '127\.0\.0\.1'/.test(r.donorLog), "name checked");
        });

        await t.step(
          "ssl-server-* (joiner) and ssl-client-* (donor) override unusable general keys",
          async () => {
            const r = await rejoin((n) => {
              const own = pki.leaf[n.name];
              // node2 joins (TLS server), node1 donates (TLS client): each gets its role's
              // keys, and the other role's keys name a missing file.
              const [mine, other] = n === n2 ? ["server", "client"] : ["client", "server"];
              return tlsExtra([
                `loose-ssl-${mine}-cert=${own.cert}`,
                `loose-ssl-${mine}-key=${own.key}`,
                `loose-ssl-${other}-cert=${pki.missing}`,
              ], [
                `ssl-ca=${pki.ca.cert}`,
                `ssl-cert=${pki.missing}`,
                `ssl-key=${pki.missing}`,
              ]);
            }, "role keys");
            // mariadbd itself mentions the loose- keys it does not know: only our lines count.
            const ours = (log: string) => log.split("\n").filter((l) => /WSREP_SST:/.test(l));
            for (const log of [r.joinerLog, r.donorLog]) {
              const used = ours(log).filter((l) => l.includes(pki.missing));
              assertEquals(used, [], "no general or other-role key was used");
            }
          },
        );

        await t.step("a hashed CA directory given as tca is used as the CA path", async () => {
          const r = await rejoin((n) =>
            tlsExtra([], [
              `tca=${pki.caDir}`,
              `tcert=${pki.leaf[n.name].cert}`,
              `tkey=${pki.leaf[n.name].key}`,
            ]), "tca = directory");
          for (const log of [r.joinerLog, r.donorLog]) {
            assert(
              new RegExp(`\\[sst\\] tca=${pki.caDir} names a directory: used as the CA path`)
                .test(log),
              "the directory is announced as the CA path",
            );
            assert(new RegExp(`trusted CAs ${pki.caDir}( from [^,]*)?,`).test(log), "capath used");
          }
        });

        const wrongNameOnNode2 = (mode: string[]) => (n: Node) =>
          tlsExtra(mode, legacy(pki, n === n2 ? pki.wrongName : pki.leaf[n.name]));

        await t.step(
          "ssl-mode=VERIFY_CA accepts a joiner certificate issued for another name",
          async () => {
            const r = await rejoin(wrongNameOnNode2(["loose-ssl-mode=verify_ca"]), "VERIFY_CA");
            assert(
              /WSREP_SST: \[INFO\] ssl-mode=VERIFY_CA \(\S+:\d+ \[mysqld\] loose-ssl-mode\): certificate chains are verified on both sides, but the joiner's certificate name is not checked/
                .test(r.donorLog),
              "the donor logs that the name is not checked, naming where ssl-mode came from",
            );
            assert(
              /joiner \S+ presents CN=elsewhere\.example; subjectAltName DNS:elsewhere\.example; chain verified, name not checked/
                .test(r.donorLog),
              "the donor saw the wrongly named certificate",
            );
            assert(/certificate name not checked: ssl-mode=VERIFY_CA/.test(r.donorLog), "no name");
          },
        );

        await t.step("the default VERIFY_IDENTITY refuses the same certificate", async () => {
          const f = await failedJoin(wrongNameOnNode2([]), "VERIFY_IDENTITY");
          const errors = errorsOf(f.donorLog);
          assertEquals(errors.length, 1, `one WSREP_SST ERROR on the donor${f.context}`);
          assert(
            /certificate of joiner \S+ \(CN=elsewhere\.example.*is not issued for .*'localhost'/
              .test(errors[0]),
            `the donor names the mismatch: ${errors[0]}`,
          );
        });

        await t.step("ssl-mode=REQUIRED: encrypted, unverified, with a WARNING", async () => {
          const r = await rejoin(
            (n) =>
              tlsExtra([], [
                ...legacy(pki, n === n2 ? pki.wrongName : pki.leaf[n.name]),
                "ssl-mode=REQUIRED",
              ]),
            "REQUIRED",
          );
          for (const [who, log] of [["joiner", r.joinerLog], ["donor", r.donorLog]]) {
            assert(
              /WSREP_SST: \[WARNING\] ssl-mode=REQUIRED \(\S+:\d+ \[sst\] ssl-mode\) turns certificate verification OFF: any host can impersonate the peer/
                .test(log),
              `${who} warns that verification is off`,
            );
          }
          assert(
            /WSREP_SST: \[WARNING\] certificate verification is off \(ssl-mode=REQUIRED/.test(
              r.donorLog,
            ),
            "the donor does not check the joiner",
          );
        });

        await t.step(
          "ssl-mode=DISABLED: the joiner refuses with exit 22, nothing listens",
          async () => {
            const f = await failedJoin(
              (n) =>
                tlsExtra(
                  n === n2 ? ["loose-ssl-mode=DISABLED"] : [],
                  legacy(pki, pki.leaf[n.name]),
                ),
              "DISABLED",
            );
            const errors = errorsOf(f.joinerLog);
            assertEquals(errors.length, 1, `one WSREP_SST ERROR on the joiner${f.context}`);
            assert(
              new RegExp(
                `${n2.cnf.replaceAll(".", "\\.")}:\\d+ \\[mysqld\\] loose-ssl-mode=DISABLED asks ` +
                  "for an unencrypted transfer, which wsrep_sst_rsync_tunnel never makes; set " +
                  "wsrep_sst_method=rsync",
              ).test(errors[0]),
              `the ERROR names the file, line and key, and the way out: ${errors[0]}`,
            );
            assert(
              /wsrep_sst_rsync_tunnel --role 'joiner'[^\n]*: 22 \(Invalid argument\)/.test(
                f.joinerLog,
              ),
              `mariadbd saw exit 22${f.context}`,
            );
            const listening = f.listeners.filter((l) => l.tag === n2.name);
            assertEquals(listening, [], "no process of node2's SST listened");
          },
        );

        await cluster.stop(n2);
        await cluster.stop(n1);
      },
    );
  },
});
