/**
 * `deno task mtr`: MariaDB's own galera rsync tests (mariadb-test-run, package `mariadb-test`)
 * with `wsrep_sst_method = rsync_tunnel` instead of `rsync`. Not part of CI (it needs the test
 * package and takes minutes per test).
 *
 * A copy of the installed `mysql-test` directory is made (the installed one is left alone); in
 * the copy, each chosen test's `.cnf` gets our method and an `[sst]` group with a CA, a
 * certificate for 127.0.0.1/localhost and its key, and `ssl-mode=VERIFY_IDENTITY` (the suite
 * sets `ssl-mode=DISABLED`, which we refuse: there is no plaintext mode). Our launcher
 * (`dist/bin`, made by `deno task build`) comes first in the servers' PATH.
 *
 *     deno task mtr                                    # the default tests below
 *     deno task mtr galera.galera_sst_rsync2           # chosen tests
 *     deno task mtr --mtr-dir /usr/share/mariadb/mariadb-test galera.galera_sst_rsync
 *
 * @module
 */
import { makeCa, makeLeaf } from "./lib/pki.ts";

/** The suite's rsync SST tests that take no stock-only `[sst]` keys (`encrypt`, `tkey` …). */
const DEFAULT_TESTS = [
  "galera.galera_sst_rsync",
  "galera.galera_sst_rsync2",
  "galera.galera_sst_rsync_data_dir",
  "galera.galera_sst_rsync_binlogname",
  "galera.galera_ist_rsync",
];
const METHOD_RE = /^(\s*wsrep[-_]sst[-_]method\s*=\s*)rsync\s*$/gm;

/** Where Debian's `mariadb-test` package puts the suite, by release. */
const MTR_DIRS = ["/usr/share/mysql/mysql-test", "/usr/share/mariadb/mariadb-test"];

/** The test runner script in `dir` (`mysql-test-run.pl` before 10.5's rename). */
function runnerIn(dir: string): string | undefined {
  return ["mariadb-test-run.pl", "mysql-test-run.pl"].find((f) => exists(`${dir}/${f}`));
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function parseArgs(argv: string[]): { mtrDir: string; tests: string[] } {
  let mtrDir = MTR_DIRS.find((d) => runnerIn(d)) ?? MTR_DIRS[0];
  const tests: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--mtr-dir") mtrDir = argv[++i];
    else if (argv[i] === "--keep") continue;
    else tests.push(argv[i]);
  }
  return { mtrDir, tests: tests.length > 0 ? tests : DEFAULT_TESTS };
}

async function must(cmd: string, args: string[], opts: Deno.CommandOptions = {}): Promise<void> {
  const r = await new Deno.Command(cmd, { args, ...opts }).output();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(r.stderr)}`);
  }
}

/** The `[sst]` group that makes a test use our method with verified TLS. */
async function sstGroup(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/pki`, { recursive: true });
  const ca = await makeCa(`${dir}/pki`, "mtr-ca");
  const leaf = await makeLeaf(`${dir}/pki`, ca, "node", {
    cn: "localhost",
    sans: ["IP:127.0.0.1", "DNS:localhost"],
  });
  return [
    "",
    "# added by scripts/mtr.ts",
    "[sst]",
    "ssl-mode=VERIFY_IDENTITY",
    `tca=${ca.cert}`,
    `tcert=${leaf.cert}`,
    `tkey=${leaf.key}`,
    // As root, mariadb-test-run starts its servers with --user=root, but the suite's own
    // `mariadbd --wsrep-recover` runs read only the option file.
    ...(Deno.uid() === 0 ? ["[mysqld]", "user=root"] : []),
    "",
  ].join("\n");
}

/** Points one test's `.cnf` at our method; fails if it does not name `rsync`. */
async function rewriteCnf(suiteDir: string, test: string, group: string): Promise<void> {
  const [suite, name] = test.split(".");
  const cnf = `${suiteDir}/${suite}/t/${name}.cnf`;
  const text = await Deno.readTextFile(cnf);
  if (!new RegExp(METHOD_RE.source, "m").test(text)) {
    throw new Error(`${cnf} does not set wsrep_sst_method=rsync`);
  }
  await Deno.writeTextFile(cnf, text.replace(METHOD_RE, "$1rsync_tunnel") + group);
}

/**
 * mariadb-test-run finds the server, clients and shared files three levels above its own
 * directory (`/usr` for `/usr/share/mysql/mysql-test`). The copy goes to the same place below
 * `dir`, beside links to everything else of that prefix; returns the copy's path.
 */
async function mirrorPrefix(mtrDir: string, dir: string): Promise<string> {
  const parts = mtrDir.replace(/\/+$/, "").split("/"); // ["", "usr", "share", "mysql", "mysql-test"]
  let real = "";
  let mirror = dir;
  for (const name of parts.slice(1, -1)) {
    const next = `${real}/${name}`;
    for await (const e of Deno.readDir(real || "/")) {
      if (e.name !== name && real !== "") {
        await Deno.symlink(`${real}/${e.name}`, `${mirror}/${e.name}`);
      }
    }
    real = next;
    mirror = `${mirror}/${name}`;
    await Deno.mkdir(mirror);
  }
  for await (const e of Deno.readDir(real)) {
    if (e.name !== parts.at(-1)) await Deno.symlink(`${real}/${e.name}`, `${mirror}/${e.name}`);
  }
  const copy = `${mirror}/${parts.at(-1)}`;
  await must("cp", ["-a", mtrDir, copy]);
  return copy;
}

async function main(): Promise<number> {
  const { mtrDir, tests } = parseArgs(Deno.args);
  const launcherDir = new URL("../dist/bin", import.meta.url).pathname;
  await Deno.stat(`${launcherDir}/wsrep_sst_rsync_tunnel`).catch(() => {
    throw new Error(`no ${launcherDir}/wsrep_sst_rsync_tunnel: run deno task build first`);
  });
  if (!runnerIn(mtrDir)) {
    throw new Error(
      `no MariaDB test suite in ${mtrDir}: apt-get install mariadb-test (or --mtr-dir <dir>)`,
    );
  }
  const dir = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "mtr-rsync-tunnel-" });
  try {
    const copy = await mirrorPrefix(mtrDir, dir);
    const group = await sstGroup(dir);
    for (const t of tests) await rewriteCnf(`${copy}/suite`, t, group);
    const path = `${launcherDir}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;
    const runner = runnerIn(copy);
    if (!runner) throw new Error(`no mariadb-test-run.pl in ${mtrDir}: install mariadb-test`);
    const mtr = new Deno.Command("perl", {
      args: [
        runner,
        "--big-test",
        "--force",
        "--retry=0",
        "--parallel=1",
        `--vardir=${dir}/var`,
        ...tests,
      ],
      cwd: copy,
      env: { PATH: path },
      stdout: "inherit",
      stderr: "inherit",
    });
    const r = await mtr.output();
    console.log(`mariadb-test-run exit ${r.code}; logs were in ${dir}/var (removed)`);
    return r.code;
  } finally {
    if (!Deno.args.includes("--keep")) await Deno.remove(dir, { recursive: true });
  }
}

Deno.exit(await main());
