/**
 * The packages installed by the real package managers on the systems we support, without
 * changing those systems:
 *
 * ```sh
 * deno run -A scripts/package_targets.ts --deb DEB [--rpm RPM] host|bullseye|trixie
 * ```
 *
 * The target (this host's `/`, or a Debian root of `scripts/roots.ts`) is the lower layer of an
 * overlay mounted in a private mount namespace; everything written — the installed package,
 * dpkg's database, the test cluster — goes to a scratch upper layer that is deleted afterwards,
 * so the host and the roots stay as they were and concurrent test runs never see our
 * `/usr/bin/wsrep_sst_rsync_tunnel`. Inside the overlay every `deno` on PATH is removed (the
 * roots get one in /usr/local/bin, Debian hosts may have one in /usr/bin); the test runner is
 * this machine's deno, mounted at /opt/wsrep-sst-test/deno, off PATH.
 *
 * Then, chrooted there: `apt-get install ./<deb>`, `dpkg -L`, one real SST through
 * `/usr/bin/wsrep_sst_rsync_tunnel` (`test/e2e/installed_package_sst.ts`), `apt-get purge`,
 * and a check that none of the package's files is left. With `--rpm`, the RPM's payload is laid
 * out with `rpm2cpio | cpio` into /opt/rpm-payload and the same SST runs through its launcher.
 *
 * Needs root (mounts). Exit code 0 when everything passed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ensureRoot } from "./roots.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** The Debian package's name. */
const DEB_NAME = "wsrep-sst-rsync-tunnel";
/** Where the RPM payload is laid out inside the overlay. */
export const RPM_PAYLOAD = "/opt/rpm-payload";
const RUNNER = "/opt/wsrep-sst-test/deno";
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

async function sh(cmd: string, args: string[], cwd?: string): Promise<void> {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "inherit", stderr: "inherit" })
    .output();
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}`);
}

/** Lays the RPM's payload out below `dir` (rpm2cpio | cpio, as an operator without rpm would). */
async function unpackRpm(rpm: string, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  await sh(
    "sh",
    ["-c", 'rpm2cpio "$1" | cpio -idm --quiet --no-absolute-filenames', "sh", rpm],
    dir,
  );
}

/** The script run inside the overlay (chrooted), with the file names as arguments. */
const INSIDE = `
set -u
deb="$1"; rpm_program="$2"
export DEBIAN_FRONTEND=noninteractive
fail() { echo "package test: $*" >&2; exit 1; }
if command -v deno >/dev/null 2>&1; then fail "deno is on PATH: $(command -v deno)"; fi
sst() {
  SST_PACKAGE_PROGRAM="$1" ${RUNNER} test -A test/e2e/installed_package_sst.ts
}
rc=0
if [ -n "$deb" ]; then
  apt-get install -y -q --no-install-recommends "$deb" || fail "apt-get install $deb failed"
  dpkg -L ${DEB_NAME} > /tmp/package-files || fail "dpkg -L failed"
  echo "package test: $(dpkg-query -W -f='\${Package} \${Version} \${Architecture}' ${DEB_NAME}) installed"
  sst /usr/bin/wsrep_sst_rsync_tunnel || rc=1
  apt-get purge -y -q ${DEB_NAME} || fail "apt-get purge failed"
  left=""
  while read -r f; do
    case "$f" in
      *wsrep*) if [ -e "$f" ] || [ -L "$f" ]; then left="$left $f"; fi ;;
    esac
  done < /tmp/package-files
  [ -z "$left" ] || fail "left behind after apt-get purge:$left"
  [ "$(dpkg-query -W -f='\${db:Status-Status}' ${DEB_NAME} 2>/dev/null)" != installed ] ||
    fail "still installed after purge"
  echo "package test: purged, no file of ours left"
fi
if [ -n "$rpm_program" ]; then sst "$rpm_program" || rc=1; fi
exit $rc
`;

/** Runs the package test in an overlay of `target`; returns the exit code. */
export async function testPackages(
  target: string,
  opts: { deb?: string; rpm?: string },
): Promise<number> {
  const lower = target === "host" ? "/" : await ensureRoot(target);
  const scratch = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "wsrep-pkg-" });
  try {
    for (const d of ["upper", "work", "merged", "tmp"]) await Deno.mkdir(`${scratch}/${d}`);
    await Deno.chmod(`${scratch}/tmp`, 0o1777);
    await Deno.chmod(scratch, 0o755);
    let deb = "";
    if (opts.deb) {
      deb = `/tmp/${opts.deb.slice(opts.deb.lastIndexOf("/") + 1)}`;
      await Deno.copyFile(opts.deb, `${scratch}${deb}`);
      await Deno.chmod(`${scratch}${deb}`, 0o644);
    }
    let rpmProgram = "";
    if (opts.rpm) {
      // Laid out on the host (the roots have no rpm2cpio); visible inside as /tmp/rpm-payload.
      await unpackRpm(opts.rpm, `${scratch}/tmp/rpm-payload`);
      rpmProgram = "/tmp/rpm-payload/usr/bin/wsrep_sst_rsync_tunnel";
    }
    const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
    await Deno.mkdir(denoDir, { recursive: true });
    const runtime = await Deno.realPath(Deno.execPath());
    // Every value is a positional argument; the mounts exist in the new namespace only.
    const script = [
      'lower="$1"; s="$2"; repo="$3"; denodir="$4"; runtime="$5"; shift 5',
      "set -e",
      "mount --make-rprivate /",
      'm="$s/merged"',
      // An upper layer on an overlayfs (e.g. a container's /var/tmp) is refused: use tmpfs then.
      'if ! mount -t overlay overlay -o "lowerdir=$lower,upperdir=$s/upper,workdir=$s/work" "$m"',
      'then mount -t tmpfs tmpfs "$s/upper" && mkdir "$s/upper/u" "$s/upper/w" &&',
      '  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$s/upper/u,workdir=$s/upper/w" "$m"',
      "fi",
      'for d in proc sys dev; do mkdir -p "$m/$d"; mount --rbind "/$d" "$m/$d"; done',
      'mount --bind "$s/tmp" "$m/tmp"',
      'mkdir -p "$m$repo" "$m$denodir" "$m/opt/wsrep-sst-test"',
      'mount --bind "$repo" "$m$repo"',
      'mount --bind "$denodir" "$m$denodir"',
      `: > "$m${RUNNER}"`,
      `mount --bind "$runtime" "$m${RUNNER}"`,
      'rm -f "$m/usr/bin/deno" "$m/usr/local/bin/deno" "$m/bin/deno" "$m/usr/sbin/deno"',
      'cp /etc/hosts "$m/etc/hosts"',
      "set +e",
      'exec chroot "$m" /usr/bin/env -i --chdir="$repo" "$@"',
    ].join("\n");
    const child = new Deno.Command("unshare", {
      args: [
        "--mount",
        "--fork",
        "--kill-child",
        "sh",
        "-c",
        script,
        "sh",
        lower,
        scratch,
        REPO,
        denoDir,
        runtime,
        `PATH=${PATH}`,
        "HOME=/root",
        `DENO_DIR=${denoDir}`,
        "NO_COLOR=1",
        "DENO_NO_UPDATE_CHECK=1",
        `SST_TEST_ROOT=${target}`,
        "sh",
        "-c",
        INSIDE,
        "sh",
        deb,
        rpmProgram,
      ],
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return (await child.status).code;
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { deb: { type: "string" }, rpm: { type: "string" } },
  });
  if (positionals.length !== 1 || (!values.deb && !values.rpm)) {
    console.error("usage: package_targets.ts --deb DEB [--rpm RPM] host|bullseye|trixie");
    Deno.exit(2);
  }
  const abs = (f?: string) => f && (f.startsWith("/") ? f : `${Deno.cwd()}/${f}`);
  Deno.exit(await testPackages(positionals[0], { deb: abs(values.deb), rpm: abs(values.rpm) }));
}
