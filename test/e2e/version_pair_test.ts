/**
 * Real servers of two releases: node1 runs Debian 11's MariaDB 10.5 (mariadbd, galera-4, socat,
 * rsync of the bullseye root, through `chroot`), node2 the host's MariaDB 10.11. node2 joins
 * by SST with node1 as donor: the redo log formats differ (10.8), so the donor must refuse
 * before `flush tables` — nothing copied, node1 still Synced — and node2's error log must name
 * the cause. One SST attempt.
 *
 * Needs the bullseye root (`deno task roots`) and the launcher (`deno task build`); host only
 * (scripts/roots.ts HOST_ONLY_TESTS): it makes its own chroot.
 */
import {
  type Cluster,
  type Node,
  type ServerVersion,
  withCluster,
} from "../../scripts/lib/cluster.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { LAUNCHER_DIR, requireLauncher } from "../../scripts/lib/launcher.ts";
import { makeCa, makeLeaf } from "../../scripts/lib/pki.ts";
import { denoAdapter, run, sleep } from "../../src/proc/process.ts";
import { parseVersionOutput } from "../../src/core/server_version.ts";

const ROOTS = Deno.env.get("SST_ROOTS_DIR") ?? "/var/cache/wsrep_sst_rsync_tunnel";
const OLD_ROOT = `${ROOTS}/bullseye`;
const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const TMP = (Deno.env.get("TMPDIR") ?? "/tmp").replace(/\/$/, "");
const ROOT_READY = (() => {
  try {
    return Deno.statSync(`${OLD_ROOT}/.wsrep-sst-root`).isFile &&
      Deno.statSync(`${OLD_ROOT}/usr/local/bin/deno`).isFile;
  } catch {
    return false;
  }
})();

/**
 * Command prefix running a command in the bullseye root: a private mount namespace with /proc,
 * /sys, /dev, the temp directory (cluster root) and the repository (launcher) mounted at their
 * host paths, then `chroot`. Each step execs, so mariadbd keeps the PID the cluster started.
 */
function inOldRoot(): string[] {
  const script = [
    'root="$1"; tmp="$2"; repo="$3"; shift 3',
    'mount --make-rprivate / && mount --rbind /proc "$root/proc" && mount --rbind /sys "$root/sys" &&',
    'mount --rbind /dev "$root/dev" && mount --bind "$tmp" "$root$tmp" &&',
    'mount --bind "$repo" "$root$repo" || exit 1',
    'exec chroot "$root" "$@"',
  ].join("\n");
  return ["unshare", "--mount", "--", "sh", "-c", script, "sh", OLD_ROOT, TMP, REPO];
}

async function must(what: string, cmd: string[], timeoutMs = 120_000): Promise<string> {
  const r = await run(denoAdapter, { cmd: cmd[0], args: cmd.slice(1) }, { timeoutMs });
  if (r.code !== 0 || r.timedOut) {
    throw new Error(`${what}: ${cmd.join(" ")} exited ${r.code}\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

async function oldVersion(): Promise<ServerVersion> {
  const out = await must("10.5 version", ["chroot", OLD_ROOT, "mariadbd", "--version"]);
  const v = parseVersionOutput(out);
  if (!v) throw new Error(`no version in ${out}`);
  return { ...v, text: `${v.major}.${v.minor}.${v.patch}` };
}

/** Every node gets its certificate, key and the CA in `<node dir>/pki`, its own to read. */
async function nodeTls(node: Node, cluster: Cluster) {
  const ca = await makeCaOnce(`${cluster.root}/ca`);
  const dir = `${node.dir}/pki`;
  await Deno.mkdir(dir, { recursive: true });
  const leaf = await makeLeaf(dir, ca, node.name, {
    cn: "localhost",
    sans: ["DNS:localhost", "IP:127.0.0.1"],
  });
  await Deno.copyFile(ca.cert, `${dir}/ca.crt`);
  return { groups: { sst: [`tca=${dir}/ca.crt`, `tcert=${leaf.cert}`, `tkey=${leaf.key}`] } };
}

let caPromise: ReturnType<typeof makeCa> | null = null;
function makeCaOnce(dir: string): ReturnType<typeof makeCa> {
  caPromise ??= Deno.mkdir(dir, { recursive: true }).then(() => makeCa(dir, "e2e-ca"));
  return caPromise;
}

function sstLines(log: string, level: string): string[] {
  return log.split("\n").filter((l) => l.includes(`WSREP_SST: [${level}]`));
}

Deno.test({
  name: "MariaDB 10.5 donor → 10.11 joiner: refused before flush tables, nothing copied, the " +
    "joiner's log names both versions",
  ignore: !ROOT_READY,
  async fn() {
    await requireLauncher();
    const old = await oldVersion();
    await Deno.mkdir(`${OLD_ROOT}${REPO}`, { recursive: true });
    const wrap = inOldRoot();
    // The 10.5 node's Deno cache, its own (mysql has another uid in the root).
    const oldDenoDir = await Deno.makeTempDir({ prefix: "e2e-versions-deno-" });
    try {
      await must("chown deno dir", [...wrap, "chown", "mysql:mysql", oldDenoDir]);
      await withCluster({
        size: 2,
        sstMethod: "rsync_tunnel",
        pathPrefix: LAUNCHER_DIR,
        configure: nodeTls,
        placement: (_name, i) =>
          i === 1 ? { wrap, version: old, env: { DENO_DIR: oldDenoDir } } : {},
      }, async (cluster) => {
        const [n1, n2] = cluster.nodes;
        // node1 gets a 10.5 datadir from the root's own install-db, owned by the root's mysql.
        await cluster.wipe(n1);
        await must("10.5 install-db", [
          ...wrap,
          "mariadb-install-db",
          "--no-defaults",
          `--datadir=${n1.datadir}`,
          "--user=mysql",
          "--auth-root-authentication-method=socket",
          "--skip-test-db",
          "--skip-name-resolve",
          "--innodb-buffer-pool-size=64M",
          "--innodb-log-file-size=16M",
        ]);
        await must("chown node1", [...wrap, "chown", "-R", "mysql:mysql", n1.dir]);
        await must("chown node2 pki", ["chown", "-R", "mysql:mysql", `${n2.dir}/pki`]);

        cluster.start(n1, { newCluster: true });
        await cluster.waitSynced(n1);
        await cluster.sql(
          n1,
          "CREATE DATABASE sst_probe; CREATE TABLE sst_probe.t (i INT PRIMARY KEY) ENGINE=InnoDB; " +
            "INSERT INTO sst_probe.t VALUES (1)",
        );
        const v1 = (await cluster.sql(n1, "SELECT VERSION()"))[0][0];
        assert(v1.startsWith(`${old.text}-`), `node1 runs ${v1}`);

        cluster.start(n2);
        const refusal = /WSREP_SST: \[ERROR\] the donor refused this SST: /;
        const deadline = Date.now() + 120_000;
        while (!refusal.test(cluster.logSinceStart(n2)) && Date.now() < deadline) {
          if (!n2.running) {
            // mariadbd aborts as soon as the donor fails; our joiner program writes its last
            // line into the same log a moment later (it lets the donor's connection end first).
            await cluster.waitHelpersGone(n2, 15_000);
            break;
          }
          await sleep(500);
        }
        const j = cluster.logSinceStart(n2);
        const d = cluster.logSinceStart(n1);
        const v2 = /Ver (\d+\.\d+\.\d+)-MariaDB/.exec(
          await must("10.11 version", ["/usr/sbin/mariadbd", "--version"]),
        )![1];
        const both = `donor MariaDB ${old.text}, joiner MariaDB ${v2}`;

        // Donor: one ERROR naming both versions and the fix, and no flush, no copy.
        const dErrors = sstLines(d, "ERROR");
        assertEquals(dErrors.length, 1, `donor WSREP_SST errors:\n${dErrors.join("\n")}\n${d}`);
        assert(
          dErrors[0].includes(
            `the joiner runs MariaDB ${v2} and cannot start on the files of a donor running ` +
              `MariaDB ${old.text}`,
          ) && /upgrade the donor to 10\.8 or later first/.test(dErrors[0]),
          dErrors[0],
        );
        assert(sstLines(d, "INFO").some((l) => l.includes(`server versions: ${both}`)), d);
        assert(!/Flushing tables for SST/.test(d), "the donor's server flushed tables:\n" + d);
        assert(!/tables flushed and locked|copying \d+ parts/.test(d), d);
        assert(/told the joiner .* that this SST is refused/.test(d), d);

        // Joiner: the donor's reason in its own log, and none of the donor's data.
        assert(
          refusal.test(j),
          `the joiner's log does not name the refusal:\n${j}\n--- donor (node1) ---\n${d}`,
        );
        const jError = sstLines(j, "ERROR").find((l) => refusal.test(l))!;
        assert(jError.includes(`donor running MariaDB ${old.text}`), jError);
        assert(sstLines(j, "INFO").some((l) => l.includes(`server versions: ${both}`)), j);
        assert(
          !(await Deno.stat(`${n2.datadir}/sst_probe`).then(() => true, () => false)),
          "the donor's sst_probe schema reached the joiner",
        );
        // The donor carries on.
        await cluster.waitSynced(n1, 30_000);
        await cluster.kill(n2);
      });
    } finally {
      await Deno.remove(oldDenoDir, { recursive: true }).catch(() => {});
    }
  },
});
