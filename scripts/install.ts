/**
 * `deno task install [--prefix P] [--destdir D] [--bundle] [--uninstall]`: installs what
 * `deno task build` (or `deno task compile`) made, plus the man page.
 *
 * - With a compiled executable in `dist/` (and no `--bundle`): `P/bin/wsrep_sst_rsync_tunnel`.
 * - Otherwise the bundle: `P/lib/wsrep_sst_rsync_tunnel/wsrep_sst_rsync_tunnel.js` and the
 *   launcher `P/bin/wsrep_sst_rsync_tunnel` (needs `deno` in mariadbd's PATH).
 * - Both: `P/share/man/man1/wsrep_sst_rsync_tunnel.1`.
 *
 * `--destdir D` prefixes every path with D (staging, packaging, tests); the default prefix is
 * `/usr` (mariadbd puts `/usr/bin` first in PATH). `--uninstall` removes exactly these files.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { BUNDLE_SUBPATH, relativeLauncher } from "./launcher.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const { values } = parseArgs({
  args: Deno.args,
  options: {
    prefix: { type: "string", default: "/usr" },
    destdir: { type: "string", default: "" },
    bundle: { type: "boolean", default: false },
    uninstall: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log("deno task install [--prefix /usr] [--destdir DIR] [--bundle] [--uninstall]");
  Deno.exit(0);
}
if (!values.prefix.startsWith("/")) {
  console.error(`--prefix ${values.prefix} must be an absolute path`);
  Deno.exit(22);
}
const base = `${values.destdir.replace(/\/+$/, "")}${values.prefix.replace(/\/+$/, "")}`;
const bin = `${base}/bin/wsrep_sst_rsync_tunnel`;
const bundle = `${base}/${BUNDLE_SUBPATH}`;
const man = `${base}/share/man/man1/wsrep_sst_rsync_tunnel.1`;

async function exists(p: string): Promise<boolean> {
  return await Deno.lstat(p).then(() => true, () => false);
}

if (values.uninstall) {
  for (const f of [bin, bundle, man]) {
    if (await exists(f)) {
      await Deno.remove(f);
      console.error(`removed ${f}`);
    }
  }
  await Deno.remove(bundle.slice(0, bundle.lastIndexOf("/"))).catch(() => {}); // only if empty
  Deno.exit(0);
}

async function put(src: string, dest: string, mode: number): Promise<void> {
  await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true, mode: 0o755 });
  const tmp = `${dest}.new-${Deno.pid}`;
  await Deno.copyFile(src, tmp);
  await Deno.chmod(tmp, mode);
  await Deno.rename(tmp, dest); // atomic: a running SST keeps its old file
  console.error(`installed ${dest}`);
}

const compiled = `${root}/dist/wsrep_sst_rsync_tunnel`;
const useCompiled = !values.bundle && await exists(compiled);
if (useCompiled) {
  await put(compiled, bin, 0o755);
  if (await exists(bundle)) await Deno.remove(bundle);
} else {
  const built = `${root}/dist/wsrep_sst_rsync_tunnel.js`;
  if (!(await exists(built))) {
    console.error(`${built} is missing: run deno task build first`);
    Deno.exit(2);
  }
  await put(built, bundle, 0o644);
  const launcher = await Deno.makeTempFile({ prefix: "wsrep-launcher-" });
  await Deno.writeTextFile(launcher, relativeLauncher());
  await put(launcher, bin, 0o755);
  await Deno.remove(launcher);
}
await put(`${root}/man/wsrep_sst_rsync_tunnel.1`, man, 0o644);
console.error(
  `installed the ${useCompiled ? "single executable" : "bundle (needs deno in PATH)"}; ` +
    `check it with: sudo -u mysql ${values.prefix}/bin/wsrep_sst_rsync_tunnel check`,
);
