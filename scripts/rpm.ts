/**
 * `deno task rpm [--executable FILE] [--out DIR]`: builds the RPM from
 * `packaging/wsrep_sst_rsync_tunnel.spec` with `rpmbuild`, from a source tarball made here that
 * holds the layout of `scripts/launcher.ts`, staged (`root/`), with its file list:
 *
 * - Bundle mode (default): `dist/wsrep_sst_rsync_tunnel.js` (from `deno task build`, which the
 *   task runs first), the running `deno` as its private runtime, and the launcher.
 * - Compiled mode, when `DENORT_BIN` is set: runs `scripts/compile.ts` (deno compile with that
 *   denort) and packages the single executable. `--executable FILE` packages an executable
 *   compiled earlier instead.
 *
 * Either way the package holds an x86_64 (or aarch64) ELF file: it is built for the machine's
 * architecture; bundle and runtime go to `/usr/libexec/wsrep_sst_rsync_tunnel/` (Fedora's place
 * for architecture-specific private programs, file context `bin_t`). `%doc`: README.md,
 * `examples/sst.cnf` (`packaging/sst.cnf`) and `selinux/wsrep_sst_rsync_tunnel.te`. The RPM lands in `dist/rpm/RPMS/<arch>/` (or `--out DIR`); its path is printed
 * on stdout. Licences: LICENSE (ours, MIT), packaging/copyright (what the package holds, and
 * the licences of the Deno runtime inside) and the texts in packaging/licenses/.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { VERSION } from "../src/core/version.ts";
import { COMMAND, privateSubdir, stage } from "./launcher.ts";
import { makeDirs, normalizeModes, runTask, TaskFailure, withStagingDir } from "./staging.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const spec = `${root}/packaging/wsrep_sst_rsync_tunnel.spec`;
/** The SELinux policy module source the RPM's doc directory holds (README: SELinux and AppArmor). */
const SELINUX_MODULE = `${root}/packaging/selinux/wsrep_sst_rsync_tunnel.te`;
const { values } = parseArgs({
  args: Deno.args,
  options: { executable: { type: "string" }, out: { type: "string" } },
});

function fail(message: string, code = 1): never {
  throw new TaskFailure(message, code);
}

async function runOk(cmd: string, args: string[], env?: Record<string, string>): Promise<void> {
  const r = await new Deno.Command(cmd, { args, env, stdout: "inherit", stderr: "inherit" })
    .output().catch((e) => fail(`cannot run ${cmd}: ${e.message}`, 2));
  if (r.code !== 0) fail(`${cmd} ${args.join(" ")} exited ${r.code}`);
}

await runTask("rpm", async () => {
  const specVersion = (await Deno.readTextFile(spec)).match(/^Version:\s*(\S+)/m)?.[1];
  if (specVersion !== VERSION) {
    fail(
      `the spec says Version: ${specVersion}, src/core/version.ts says ${VERSION}; make them equal`,
    );
  }

  let executable = values.executable;
  const denort = Deno.env.get("DENORT_BIN");
  if (!executable && denort) {
    await runOk(Deno.execPath(), ["run", "-A", `${root}/scripts/compile.ts`]);
    executable = `${root}/dist/wsrep_sst_rsync_tunnel`;
  }
  const compiled = executable !== undefined;

  /** Licence texts of what the bundle and the runtime contain, from packaging/licenses/. */
  const LICENSE_TEXTS = ["deno.LICENSE", "commander.LICENSE"];

  const top = values.out ?? `${root}/dist/rpm`;
  await Deno.remove(`${top}/BUILD`, { recursive: true }).catch(() => {});
  await Deno.remove(`${top}/BUILDROOT`, { recursive: true }).catch(() => {});
  for (const d of ["SOURCES", "SPECS", "BUILD", "RPMS", "SRPMS"]) {
    await makeDirs(`${top}/${d}`);
  }
  const name = `wsrep_sst_rsync_tunnel-${VERSION}`;
  await withStagingDir("wsrep-rpm-", async (work) => {
    const src = `${work}/${name}`;
    await makeDirs(src);
    const bundle = `${root}/dist/wsrep_sst_rsync_tunnel.js`;
    if (!compiled && !(await Deno.stat(bundle).then(() => true, () => false))) {
      fail(`${bundle} is missing: run deno task build`, 2);
    }
    const files = await stage({
      destdir: `${src}/root`,
      prefix: "/usr",
      ...(compiled ? { executable: executable! } : { bundle }),
      manPage: `${root}/man/${COMMAND}.1`,
      gzipMan: true,
      privateDir: "libexec",
    });
    const dirs = compiled ? [] : [`%dir /usr/${privateSubdir("libexec")}`];
    await Deno.writeTextFile(
      `${src}/files.list`,
      [...dirs, ...files.map((f) => f.path)].join("\n") + "\n",
    );
    await Deno.copyFile(`${root}/README.md`, `${src}/README.md`);
    await makeDirs(`${src}/examples`);
    await Deno.copyFile(`${root}/packaging/sst.cnf`, `${src}/examples/sst.cnf`);
    await makeDirs(`${src}/selinux`);
    await Deno.copyFile(SELINUX_MODULE, `${src}/selinux/wsrep_sst_rsync_tunnel.te`);
    await Deno.copyFile(`${root}/LICENSE`, `${src}/LICENSE`);
    await Deno.copyFile(`${root}/packaging/copyright`, `${src}/copyright`);
    for (const l of LICENSE_TEXTS) {
      await Deno.copyFile(`${root}/packaging/licenses/${l}`, `${src}/${l}`);
    }
    // Every directory 0755, every file 0644 or 0755, whatever the umask: `cp -a` in the spec
    // and %files keep the modes of the tarball.
    await normalizeModes(src);
    await runOk("tar", [
      "-C",
      work,
      "--owner=0",
      "--group=0",
      "-czf",
      `${top}/SOURCES/${name}.tar.gz`,
      name,
    ]);
    await Deno.copyFile(spec, `${top}/SPECS/wsrep_sst_rsync_tunnel.spec`);
    const args = [
      "-bb",
      "--define",
      `_topdir ${top}`,
      // Debian's rpm has no RPM database of the build host's packages.
      "--nodeps",
      `${top}/SPECS/wsrep_sst_rsync_tunnel.spec`,
    ]; // deno-fmt-ignore
    await runOk("rpmbuild", args);
  });
  const arch = new TextDecoder().decode(
    (await new Deno.Command("rpm", { args: ["--eval", "%{_arch}"], stdout: "piped" }).output())
      .stdout,
  ).trim();
  const dir = `${top}/RPMS/${arch}`;
  const rpm = [...Deno.readDirSync(dir)].map((e) => e.name)
    .find((n) => n.startsWith(`${name}-`) && n.endsWith(`.${arch}.rpm`));
  if (!rpm) fail(`rpmbuild produced no ${name}-*.${arch}.rpm in ${dir}`);
  console.log(`${dir}/${rpm}`);
});
