/**
 * `deno task rpm [--executable FILE] [--out DIR]`: builds the RPM from
 * `packaging/wsrep_sst_rsync_tunnel.spec` with `rpmbuild`, from a source tarball made here.
 *
 * - Bundle mode (default): the tarball holds `dist/wsrep_sst_rsync_tunnel.js` (from
 *   `deno task build`, which the task runs first) and the launcher; the package is noarch and
 *   requires deno.
 * - Compiled mode, when `DENORT_BIN` is set: runs `scripts/compile.ts` (deno compile with that
 *   denort) and packages the single executable (`rpmbuild --with compiled`). `--executable FILE`
 *   packages an executable compiled earlier instead.
 *
 * The RPM lands in `dist/rpm/RPMS/<arch>/` (or `--out DIR`); its path is printed on stdout.
 * A License tag comes from `RPM_LICENSE` (default `LicenseRef-unspecified` until the
 * repository has a LICENSE file, which is then packaged as %license).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { VERSION } from "../src/core/version.ts";
import { relativeLauncher } from "./launcher.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const spec = `${root}/packaging/wsrep_sst_rsync_tunnel.spec`;
const { values } = parseArgs({
  args: Deno.args,
  options: { executable: { type: "string" }, out: { type: "string" } },
});

function fail(message: string, code = 1): never {
  console.error(`deno task rpm: ${message}`);
  Deno.exit(code);
}

async function runOk(cmd: string, args: string[], env?: Record<string, string>): Promise<void> {
  const r = await new Deno.Command(cmd, { args, env, stdout: "inherit", stderr: "inherit" })
    .output().catch((e) => fail(`cannot run ${cmd}: ${e.message}`, 2));
  if (r.code !== 0) fail(`${cmd} ${args.join(" ")} exited ${r.code}`);
}

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

const top = values.out ?? `${root}/dist/rpm`;
await Deno.remove(`${top}/BUILD`, { recursive: true }).catch(() => {});
await Deno.remove(`${top}/BUILDROOT`, { recursive: true }).catch(() => {});
for (const d of ["SOURCES", "SPECS", "BUILD", "RPMS", "SRPMS"]) {
  await Deno.mkdir(`${top}/${d}`, { recursive: true });
}
const name = `wsrep_sst_rsync_tunnel-${VERSION}`;
const stage = await Deno.makeTempDir({ prefix: "wsrep-rpm-" });
try {
  const src = `${stage}/${name}`;
  await Deno.mkdir(src);
  if (compiled) {
    await Deno.copyFile(executable!, `${src}/wsrep_sst_rsync_tunnel`);
    await Deno.chmod(`${src}/wsrep_sst_rsync_tunnel`, 0o755);
  } else {
    await Deno.copyFile(
      `${root}/dist/wsrep_sst_rsync_tunnel.js`,
      `${src}/wsrep_sst_rsync_tunnel.js`,
    )
      .catch(() => fail("dist/wsrep_sst_rsync_tunnel.js is missing: run deno task build", 2));
    await Deno.writeTextFile(`${src}/launcher.sh`, relativeLauncher());
  }
  await Deno.copyFile(`${root}/man/wsrep_sst_rsync_tunnel.1`, `${src}/wsrep_sst_rsync_tunnel.1`);
  await Deno.copyFile(`${root}/README.md`, `${src}/README.md`);
  const license = await Deno.stat(`${root}/LICENSE`).then(() => true, () => false);
  if (license) await Deno.copyFile(`${root}/LICENSE`, `${src}/LICENSE`);
  await runOk("tar", [
    "-C",
    stage,
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
    "--define",
    `license_tag ${Deno.env.get("RPM_LICENSE") ?? "LicenseRef-unspecified"}`,
    ...(license ? ["--define", "license_file LICENSE"] : []),
    ...(compiled ? ["--with", "compiled"] : []),
    // Debian's rpm has no RPM database of the build host's packages.
    "--nodeps",
    `${top}/SPECS/wsrep_sst_rsync_tunnel.spec`,
  ]; // deno-fmt-ignore
  await runOk("rpmbuild", args);
} finally {
  await Deno.remove(stage, { recursive: true }).catch(() => {});
}
const arch = compiled
  ? new TextDecoder().decode(
    (await new Deno.Command("rpm", { args: ["--eval", "%{_arch}"], stdout: "piped" }).output())
      .stdout,
  ).trim()
  : "noarch";
const dir = `${top}/RPMS/${arch}`;
const rpm = [...Deno.readDirSync(dir)].map((e) => e.name)
  .find((n) => n.startsWith(`${name}-`) && n.endsWith(`.${arch}.rpm`));
if (!rpm) fail(`rpmbuild produced no ${name}-*.${arch}.rpm in ${dir}`);
console.log(`${dir}/${rpm}`);
