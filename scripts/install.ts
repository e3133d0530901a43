/**
 * `deno task install [--prefix P] [--destdir D] [--bundle] [--uninstall]`: installs what
 * `deno task build` (or `deno task compile`) made, in the layout of `scripts/launcher.ts`.
 *
 * - With a compiled executable in `dist/` (and no `--bundle`): `P/bin/wsrep_sst_rsync_tunnel`.
 * - Otherwise the bundle `P/lib/wsrep_sst_rsync_tunnel/wsrep_sst_rsync_tunnel.js`, the Deno
 *   runtime running this task copied to `P/lib/wsrep_sst_rsync_tunnel/deno`, and the launcher
 *   `P/bin/wsrep_sst_rsync_tunnel` that runs the one with the other (no deno needed in PATH).
 * - Both: `P/share/man/man1/wsrep_sst_rsync_tunnel.1`.
 *
 * `--destdir D` prefixes every path with D (staging, packaging, tests); the default prefix is
 * `/usr` (mariadbd puts `/usr/bin` first in PATH). `--uninstall` removes exactly these files.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { COMMAND, layoutPaths, LIB_SUBDIR, stage } from "./launcher.ts";

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
const destdir = values.destdir.replace(/\/+$/, "");
const libDir = `${destdir}${values.prefix.replace(/\/+$/, "")}/${LIB_SUBDIR}`;

async function exists(p: string): Promise<boolean> {
  return await Deno.lstat(p).then(() => true, () => false);
}

if (values.uninstall) {
  for (const f of [...layoutPaths(values.prefix, false, false)]) {
    const p = `${destdir}${f.path}`;
    if (await exists(p)) {
      await Deno.remove(p);
      console.error(`removed ${p}`);
    }
  }
  await Deno.remove(libDir).catch(() => {}); // only if empty
  Deno.exit(0);
}

const compiled = `${root}/dist/${COMMAND}`;
const useCompiled = !values.bundle && await exists(compiled);
const built = `${root}/dist/wsrep_sst_rsync_tunnel.js`;
if (!useCompiled && !(await exists(built))) {
  console.error(`${built} is missing: run deno task build first`);
  Deno.exit(2);
}
if (useCompiled) {
  // A bundle installed earlier would be left unused: remove it (and its runtime).
  for (
    const f of layoutPaths(values.prefix, false, false).filter((f) => f.path.includes("/lib/"))
  ) {
    await Deno.remove(`${destdir}${f.path}`).catch(() => {});
  }
  await Deno.remove(libDir).catch(() => {});
}
const files = await stage({
  destdir,
  prefix: values.prefix,
  ...(useCompiled ? { executable: compiled } : { bundle: built }),
  manPage: `${root}/man/${COMMAND}.1`,
});
for (const f of files) console.error(`installed ${destdir}${f.path}`);
console.error(
  `installed the ${useCompiled ? "single executable" : "bundle with its Deno runtime"}; ` +
    `check it with: sudo -u mysql ${values.prefix}/bin/${COMMAND} check`,
);
