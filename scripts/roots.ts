/**
 * Debian root file systems of the MariaDB versions our users run, for real-cluster tests
 * against each version's own mariadbd, galera-4, socat, rsync and openssl.
 *
 * ```sh
 * deno run -A scripts/roots.ts build bullseye trixie          # build or reuse the roots
 * deno run -A scripts/roots.ts test bullseye [test files…]    # run e2e tests inside one
 * deno run -A scripts/roots.ts mtr bullseye [tests…]          # deno task mtr inside one
 * deno run -A scripts/roots.ts versions bullseye trixie       # the README's "tested with" rows
 * deno run -A scripts/roots.ts check-readme bullseye trixie   # fail if the README differs
 * ```
 *
 * A root is built once with `debootstrap --variant=minbase` from the mirror the host's apt uses
 * and reused while its stamp names the same suite; a failed build leaves nothing behind. When
 * the package list has grown since a root was built (local roots are reused for months; CI
 * builds fresh ones), the packages it lacks are installed into it by `apt-get` (bounded,
 * logged) and recorded beside the stamp. Before each use the root gets this machine's `deno`
 * binary and `/etc/hosts`.
 *
 * Tests run in a private mount namespace (`unshare --mount`), so the bind mounts of `/proc`,
 * `/sys`, `/dev` (with `/dev/pts` and the loop devices: the clone test loop-mounts XFS and
 * btrfs images from inside the root), the repository and the Deno cache vanish when the run
 * ends, however it ends. Network namespaces cannot be made inside the chroot (`ip netns` fails
 * there), so the multi-host tests run on the host only.
 *
 * Needs root. Roots live in `$SST_ROOTS_DIR` (default `/var/cache/wsrep_sst_rsync_tunnel`).
 *
 * @module
 */
import { denoAdapter, run } from "../src/proc/process.ts";

/** The Debian releases we test, with what each one adds to the common package list. */
export const SUITES: Record<string, { mariadb: string; extra: string[] }> = {
  bullseye: { mariadb: "10.5", extra: [] },
  bookworm: { mariadb: "10.11", extra: [] },
  trixie: { mariadb: "11.8", extra: [] },
};

const PACKAGES = [
  "mariadb-server",
  "mariadb-client",
  "galera-4",
  "socat",
  "rsync",
  "openssl",
  "iproute2",
  "procps",
  "util-linux",
  // test/e2e/clone_pass_test.ts: loop-mounted XFS (reflink=1) and btrfs images, and its load.
  "xfsprogs",
  "btrfs-progs",
  "e2fsprogs",
  "mount",
  "sysbench",
];

/**
 * e2e test files that run on the host only: network namespaces cannot be made inside a chroot,
 * and the version-pair test makes its own chroot into a root. (The clone pass's test runs in the
 * roots too: they install xfsprogs, btrfs-progs and sysbench, and see the host's loop devices.)
 */
export const HOST_ONLY_TESTS = [
  "test/e2e/multihost_test.ts",
  "test/e2e/version_pair_test.ts",
];

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const ROOTS = Deno.env.get("SST_ROOTS_DIR") ?? "/var/cache/wsrep_sst_rsync_tunnel";
const BUILD_TIMEOUT_MS = 15 * 60_000;

function rootOf(suite: string): string {
  return `${ROOTS}/${suite}`;
}

function packagesOf(suite: string): string[] {
  const s = SUITES[suite];
  if (!s) throw new Error(`unknown suite '${suite}' (known: ${Object.keys(SUITES).join(", ")})`);
  return [...PACKAGES, ...s.extra];
}

function stampOf(suite: string): string {
  return JSON.stringify({ suite, packages: packagesOf(suite) }) + "\n";
}

/** The file beside the stamp that lists the packages installed into a root after its build. */
const ADDED_FILE = ".wsrep-sst-root-added";

/**
 * What a root needs before use, from its stamp (`{suite, packages}` of its build) and the list
 * of packages installed into it since (one a line): `build` when there is no complete root of
 * `suite`, else the wanted packages it lacks (none: reuse as it is).
 */
export function rootNeeds(
  suite: string,
  wanted: readonly string[],
  stampText: string,
  addedText: string,
): { kind: "build" } | { kind: "add"; packages: string[] } {
  let stamp: { suite?: unknown; packages?: unknown };
  try {
    stamp = JSON.parse(stampText);
  } catch {
    return { kind: "build" };
  }
  if (stamp?.suite !== suite || !Array.isArray(stamp.packages)) return { kind: "build" };
  const have = new Set([...stamp.packages, ...addedText.split("\n").map((l) => l.trim())]);
  return { kind: "add", packages: wanted.filter((p) => !have.has(p)) };
}

/**
 * Installs `packages` into the existing root of `suite` with its own apt (the mirror it was
 * built from), each step bounded, then records them beside the stamp. The stamp itself is left
 * as built, so a checkout with the older list still reuses the root.
 */
async function addPackages(suite: string, root: string, packages: string[]): Promise<void> {
  console.error(`roots: ${suite}: installing ${packages.join(" ")} into the existing root`);
  const started = Date.now();
  const env = ["DEBIAN_FRONTEND=noninteractive"];
  // Another run installing into the same root holds dpkg's lock: wait for it, bounded.
  const lock = ["-o", "DPkg::Lock::Timeout=300"];
  for (
    const args of [
      ["update", "-qq"],
      ["install", "-y", "-qq", "--no-install-recommends", ...lock, ...packages],
    ]
  ) {
    const r = await run(denoAdapter, {
      cmd: "chroot",
      args: [root, "env", ...env, "apt-get", ...args],
    }, { timeoutMs: BUILD_TIMEOUT_MS });
    if (r.code !== 0 || r.timedOut) {
      const why = r.timedOut ? "timed out" : `exited ${r.code}`;
      throw new Error(
        `apt-get ${args[0]} in ${root} ${why}:\n${(r.stdout + r.stderr).slice(-3000)}`,
      );
    }
  }
  const addedFile = `${root}/${ADDED_FILE}`;
  const before = await Deno.readTextFile(addedFile).catch(() => "");
  await Deno.writeTextFile(addedFile, before + packages.map((p) => `${p}\n`).join(""));
  console.error(
    `roots: ${suite}: installed ${packages.length} packages in ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
}

/**
 * The Debian archive the host's apt is configured with (deb822 `URIs:` or one-line `deb`
 * entries, security and update suites skipped), or undefined for debootstrap's default.
 */
export function aptMirror(sources: string[]): string | undefined {
  for (const text of sources) {
    const blocks = text.split(/\n\s*\n/);
    for (const block of blocks) {
      const uri = block.match(/^URIs:\s*(\S+)/m)?.[1];
      const suites = block.match(/^Suites:\s*(.+)$/m)?.[1] ?? "";
      if (uri && !/security/.test(uri) && !/-security|-updates/.test(suites.split(/\s+/)[0])) {
        return uri;
      }
    }
    for (const line of text.split("\n")) {
      const m = line.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
      if (m && !/security/.test(m[1]) && !/-security|-updates/.test(m[2])) return m[1];
    }
  }
  return undefined;
}

async function hostAptSources(): Promise<string[]> {
  const files = ["/etc/apt/sources.list"];
  try {
    for await (const e of Deno.readDir("/etc/apt/sources.list.d")) {
      if (/\.(list|sources)$/.test(e.name)) files.push(`/etc/apt/sources.list.d/${e.name}`);
    }
  } catch { /* no such directory: sources.list alone */ }
  const out: string[] = [];
  for (const f of files.sort()) out.push(await Deno.readTextFile(f).catch(() => ""));
  return out;
}

/**
 * Builds `suite`'s root unless a complete one exists; installs into an existing one the
 * packages the list gained since it was built. Returns its path.
 */
export async function ensureRoot(suite: string): Promise<string> {
  const root = rootOf(suite);
  const stampFile = `${root}/.wsrep-sst-root`;
  const stamp = stampOf(suite);
  const needs = rootNeeds(
    suite,
    packagesOf(suite),
    await Deno.readTextFile(stampFile).catch(() => ""),
    await Deno.readTextFile(`${root}/${ADDED_FILE}`).catch(() => ""),
  );
  if (needs.kind === "add") {
    if (needs.packages.length > 0) await addPackages(suite, root, needs.packages);
    await refreshRoot(root);
    return root;
  }
  await Deno.mkdir(ROOTS, { recursive: true });
  const tmp = `${root}.building`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  const mirror = aptMirror(await hostAptSources());
  console.error(`roots: building ${suite} in ${root} (debootstrap from ${mirror ?? "default"})`);
  const started = Date.now();
  const r = await run(denoAdapter, {
    cmd: "debootstrap",
    args: [
      "--variant=minbase",
      `--include=${packagesOf(suite).join(",")}`,
      suite,
      tmp,
      ...(mirror ? [mirror] : []),
    ],
  }, { timeoutMs: BUILD_TIMEOUT_MS });
  if (r.code !== 0 || r.timedOut) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    const why = r.timedOut ? "timed out" : `exited ${r.code}`;
    throw new Error(`debootstrap ${suite} ${why}:\n${(r.stdout + r.stderr).slice(-3000)}`);
  }
  await Deno.writeTextFile(`${tmp}/.wsrep-sst-root`, stamp);
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, root);
  console.error(`roots: ${suite} built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await refreshRoot(root);
  return root;
}

/** Puts this machine's deno binary and /etc/hosts into the root. */
async function refreshRoot(root: string): Promise<void> {
  const deno = await Deno.realPath(Deno.execPath());
  const target = `${root}/usr/local/bin/deno`;
  const [a, b] = await Promise.all([Deno.stat(deno), Deno.stat(target).catch(() => null)]);
  if (!b || a.size !== b.size || (a.mtime?.getTime() ?? 0) > (b.mtime?.getTime() ?? 0)) {
    await Deno.copyFile(deno, target);
    await Deno.chmod(target, 0o755);
  }
  await Deno.copyFile("/etc/hosts", `${root}/etc/hosts`);
}

/** The version line of each tool inside the root. */
export async function versionsIn(root: string): Promise<Record<string, string>> {
  const probe = async (cmd: string, args: string[], pick: RegExp) => {
    const spec = root === "/" ? { cmd, args } : { cmd: "chroot", args: [root, cmd, ...args] };
    const r = await run(denoAdapter, spec, { timeoutMs: 20_000 });
    return (r.stdout + r.stderr).match(pick)?.[1] ?? "?";
  };
  return {
    mariadb: await probe("mariadbd", ["--version"], /Ver (\S+?)-MariaDB/),
    galera: await probe("dpkg-query", ["-W", "-f=${Version}", "galera-4"], /^(\S+?)(?:-|$)/),
    socat: await probe("socat", ["-V"], /socat version (\S+)/),
    rsync: await probe("rsync", ["--version"], /rsync\s+version (\S+)/),
    openssl: await probe("openssl", ["version"], /OpenSSL (\S+)/),
  };
}

/** Test files of `test/e2e/` that can run inside a root (all but the host-only ones). */
async function rootTestFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(`${REPO}/test/e2e`)) {
    const f = `test/e2e/${e.name}`;
    if (e.isFile && e.name.endsWith("_test.ts") && !HOST_ONLY_TESTS.includes(f)) files.push(f);
  }
  return files.sort();
}

/**
 * Runs `deno test` on e2e test files inside `suite`'s root (all that can run there by default).
 * Returns the exit code.
 */
export async function testInRoot(suite: string, files: string[]): Promise<number> {
  const tests = files.length > 0 ? files : await rootTestFiles();
  return await runInRoot(suite, ["deno", "test", "-A", ...tests]);
}

/**
 * `deno task mtr` inside `suite`'s root: MariaDB's galera rsync tests with that release's
 * server. Installs the release's `mariadb-test` package into the root first when it is missing
 * (from the root's Debian mirror: a developer's command, not CI's).
 */
async function mtrInRoot(suite: string, tests: string[]): Promise<number> {
  const root = await ensureRoot(suite);
  const has = await run(denoAdapter, {
    cmd: "chroot",
    args: [root, "dpkg-query", "-W", "-f=${Status}", "mariadb-test"],
  }, { timeoutMs: 20_000 });
  if (!has.stdout.includes("install ok installed")) {
    console.error(`roots: ${suite}: installing mariadb-test into the root`);
    const env = ["DEBIAN_FRONTEND=noninteractive"];
    for (const args of [["update"], ["install", "-y", "--no-install-recommends", "mariadb-test"]]) {
      const r = await run(denoAdapter, {
        cmd: "chroot",
        args: [root, "env", ...env, "apt-get", ...args],
      }, { timeoutMs: BUILD_TIMEOUT_MS });
      if (r.code !== 0) throw new Error(`apt-get ${args.join(" ")} in ${root}: ${r.stderr}`);
    }
  }
  return await runInRoot(suite, ["deno", "run", "-A", "scripts/mtr.ts", ...tests]);
}

/**
 * Runs `command` inside `suite`'s root, with the repository and the Deno cache bind-mounted at
 * their host paths, in a private mount namespace. Returns the exit code.
 */
async function runInRoot(suite: string, command: string[]): Promise<number> {
  const root = await ensureRoot(suite);
  const denoDir = Deno.env.get("DENO_DIR") ??
    `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
  await Deno.mkdir(denoDir, { recursive: true });
  for (const d of [REPO, denoDir, "/proc", "/sys", "/dev"]) {
    await Deno.mkdir(`${root}${d}`, { recursive: true });
  }
  const v = await versionsIn(root);
  console.error(
    `roots: ${suite}: MariaDB ${v.mariadb}, galera ${v.galera}, socat ${v.socat}, ` +
      `rsync ${v.rsync}, OpenSSL ${v.openssl}`,
  );
  // The mounts happen in the new mount namespace only; every value is a positional argument.
  const script = [
    'root="$1"; repo="$2"; denodir="$3"; shift 3',
    'mount --make-rprivate / && mount --rbind /proc "$root/proc" && mount --rbind /sys "$root/sys"',
    'mount --rbind /dev "$root/dev"',
    'mount --bind "$repo" "$root$repo" && mount --bind "$denodir" "$root$denodir"',
    'exec chroot "$root" /usr/bin/env --chdir="$repo" "$@"',
  ].join("\n");
  const child = denoAdapter.spawn({
    cmd: "unshare",
    args: [
      "--mount",
      "--fork",
      "--kill-child",
      "sh",
      "-c",
      script,
      "sh",
      root,
      REPO,
      denoDir,
      `DENO_DIR=${denoDir}`,
      "NO_COLOR=1",
      "DENO_NO_UPDATE_CHECK=1",
      `SST_TEST_ROOT=${suite}`,
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      ...command,
    ],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  });
  const status = await child.status;
  return status.code ?? 1;
}

const TABLE_START = "<!-- tested-with:start -->";
const TABLE_END = "<!-- tested-with:end -->";

/** The README's "tested with" rows: this host, then every root. */
async function testedWithRows(suites: string[]): Promise<string[]> {
  const row = (name: string, v: Record<string, string>) =>
    `| ${name} | ${v.mariadb} | ${v.galera} | ${v.socat} | ${v.rsync} | ${v.openssl} |`;
  const os = (await Deno.readTextFile("/etc/os-release")).match(/^VERSION_CODENAME=(\S+)/m)?.[1];
  const rows = [row(`${os ?? "host"} (host)`, await versionsIn("/"))];
  for (const s of suites) rows.push(row(`${s} (root)`, await versionsIn(await ensureRoot(s))));
  return rows;
}

/** Fails (1) when the README's table differs from what the machine and the roots run. */
async function checkReadme(suites: string[]): Promise<number> {
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  const body = readme.split(TABLE_START)[1]?.split(TABLE_END)[0] ?? "";
  const written = body.split("\n").filter((l) => /^\| \w+ \((host|root)\)/.test(l))
    .map((l) => l.replace(/\s+/g, " ").trim());
  const actual = await testedWithRows(suites);
  const missing = actual.filter((r) => !written.includes(r));
  if (missing.length === 0) {
    console.log(`README "tested with" table matches (${actual.length} rows)`);
    return 0;
  }
  console.log(
    `README "tested with" table is out of date; rows that should be there:\n${missing.join("\n")}`,
  );
  return 1;
}

async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  switch (cmd) {
    case "build":
      for (const s of rest) console.log(`${s}: ${await ensureRoot(s)}`);
      return 0;
    case "versions":
      for (const r of await testedWithRows(rest)) console.log(r);
      return 0;
    case "check-readme":
      return await checkReadme(rest);
    case "test": {
      const [suite, ...files] = rest;
      if (!suite) break;
      return await testInRoot(suite, files);
    }
    case "mtr": {
      const [suite, ...tests] = rest;
      if (!suite) break;
      return await mtrInRoot(suite, tests);
    }
  }
  console.error(
    "usage: roots.ts build <suite…> | versions <suite…> | check-readme <suite…> | " +
      "test <suite> [test files…] | mtr <suite> [tests…]\n" +
      `suites: ${Object.keys(SUITES).join(", ")}`,
  );
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
