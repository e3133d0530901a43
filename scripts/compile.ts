/**
 * `deno task compile`: wraps the bundle into the self-contained executable
 * dist/wsrep_sst_rsync_tunnel with `deno compile`. deno compile needs Deno's `denort`
 * runtime of the same version; it downloads it unless `DENORT_BIN` names a local copy. Our
 * build hosts (and RPM builds) are offline, so without DENORT_BIN and without a cached denort
 * this stops with one line saying what to provide.
 *
 * @module
 */
const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const bundle = `${root}/dist/wsrep_sst_rsync_tunnel.js`;
const output = `${root}/dist/wsrep_sst_rsync_tunnel`;
const version = Deno.version.deno;
const target = Deno.build.target;

function cachedDenort(): string | null {
  const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  const zip = `${denoDir}/dl/release/v${version}/denort-${target}.zip`;
  try {
    Deno.statSync(zip);
    return zip;
  } catch {
    return null;
  }
}

const denort = Deno.env.get("DENORT_BIN");
if (denort) {
  const st = await Deno.stat(denort).catch(() => null);
  if (!st?.isFile) {
    console.error(
      `DENORT_BIN=${denort} is not a file; point it at denort ${version} for ${target}`,
    );
    Deno.exit(2);
  }
} else if (!cachedDenort()) {
  console.error(
    `deno compile needs denort ${version} for ${target}, which cannot be downloaded here: ` +
      `set DENORT_BIN=/path/to/denort (exactly version ${version}) and run deno task compile again`,
  );
  Deno.exit(2);
}

const cmd = new Deno.Command(Deno.execPath(), {
  args: ["compile", "-A", "--no-config", "--output", output, bundle],
  env: denort ? { DENORT_BIN: denort } : {},
  stdout: "inherit",
  stderr: "inherit",
});
const { code } = await cmd.output();
if (code !== 0) Deno.exit(code);

// A wrong runtime (e.g. the deno CLI given as DENORT_BIN) compiles but ignores the payload.
const probe = await new Deno.Command(output, { args: ["--version"], stdout: "piped" }).output();
const said = new TextDecoder().decode(probe.stdout).trim().split("\n")[0];
const { VERSION } = await import("../src/core/version.ts");
if (said !== `wsrep_sst_rsync_tunnel ${VERSION}`) {
  await Deno.remove(output);
  console.error(
    `${output} answered '${said.split("\n")[0]}' instead of ${VERSION}: DENORT_BIN is not ` +
      `a denort runtime (it must be denort ${version}, not the deno CLI); removed the output`,
  );
  Deno.exit(1);
}
console.error(`compiled ${output} (wsrep_sst_rsync_tunnel ${VERSION})`);
