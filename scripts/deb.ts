/**
 * `deno task deb [--executable FILE] [--out DIR] [--fast]`: builds the Debian package
 * `wsrep-sst-rsync-tunnel_<version>-<revision>_<arch>.deb` with `dpkg-deb` (no network, no
 * debian/ source tree): the layout of `scripts/launcher.ts` (bundle + the running `deno` as its
 * private runtime; or, with `DENORT_BIN` or `--executable`, the single executable), the man
 * page, `/usr/share/doc/wsrep-sst-rsync-tunnel/{copyright,changelog.Debian.gz,README.md.gz}`
 * from `packaging/copyright` (machine-readable), `packaging/debian.changelog` and README.md,
 * the example configuration `examples/sst.cnf` (`packaging/sst.cnf`), and md5sums. The
 * archive is compressed with xz -9 ({@link DEB_COMPRESSION}).
 *
 * `Depends:` is socat, rsync, openssl plus the C libraries of the ELF file we ship (libc6,
 * libgcc-s1; see {@link libraryDepends}). The package path is printed on stdout (default `dist/deb/`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { VERSION } from "../src/core/version.ts";
import { COMMAND, RUNTIME_SUBPATH, stage } from "./launcher.ts";
import { libraryDepends } from "./elf_depends.ts";
import { HOMEPAGE, MAINTAINER } from "./package_identity.ts";
import { makeDirs, normalizeModes, runTask, TaskFailure, withStagingDir } from "./staging.ts";

/** The Debian package name (no underscores allowed there). */
export const DEB_NAME = "wsrep-sst-rsync-tunnel";
/** The example `[sst]` configuration, in `packaging/` and in the doc directory's `examples/`. */
export const EXAMPLE_CONFIG = "sst.cnf";
/**
 * dpkg-deb's compression: xz at level 9 (measured on 0.1.0 with the Deno 2 runtime: see the
 * README's "What the packages hold"); every dpkg since Debian 7 reads it.
 */
export const DEB_COMPRESSION = ["-Zxz", "-z9"];
/**
 * `--fast`: xz at level 0, for tests that check what the package holds, not its size (level 9
 * takes about 80 s here, level 0 a few).
 */
const FAST_COMPRESSION = ["-Zxz", "-z0"];
/** Programs the SST runs, besides the C libraries of the shipped ELF file. */
export const RUN_DEPENDS = ["socat", "rsync", "openssl"];

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const { values } = parseArgs({
  args: Deno.args,
  options: {
    executable: { type: "string" },
    out: { type: "string" },
    fast: { type: "boolean", default: false },
  },
});

function fail(message: string, code = 1): never {
  throw new TaskFailure(message, code);
}

async function output(cmd: string, args: string[], cwd?: string): Promise<string> {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output().catch((e) => fail(`cannot run ${cmd}: ${e.message}`, 2));
  const d = new TextDecoder();
  if (r.code !== 0) fail(`${cmd} ${args.join(" ")} exited ${r.code}: ${d.decode(r.stderr)}`);
  return d.decode(r.stdout);
}

await runTask("deb", async () => {
  const changelog = await Deno.readTextFile(`${root}/packaging/debian.changelog`);
  const debVersion = changelog.match(/^\S+ \(([^)]+)\)/)?.[1] ?? "";
  if (debVersion.replace(/-[^-]+$/, "") !== VERSION) {
    fail(
      `packaging/debian.changelog's first entry is ${debVersion}, src/core/version.ts says ` +
        `${VERSION}; add an entry for ${VERSION}-1`,
    );
  }

  let executable = values.executable;
  if (!executable && Deno.env.get("DENORT_BIN")) {
    const c = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}/scripts/compile.ts`],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (c.code !== 0) fail("deno compile failed (see above)");
    executable = `${root}/dist/${COMMAND}`;
  }
  const bundle = `${root}/dist/wsrep_sst_rsync_tunnel.js`;
  if (!executable && !(await Deno.stat(bundle).then(() => true, () => false))) {
    fail(`${bundle} is missing: run deno task build`, 2);
  }

  const arch = (await output("dpkg", ["--print-architecture"])).trim();
  const out = values.out ?? `${root}/dist/deb`;
  await makeDirs(out);
  await withStagingDir("wsrep-deb-", async (work) => {
    const tree = `${work}/${DEB_NAME}`;
    const files = await stage({
      destdir: tree,
      prefix: "/usr",
      ...(executable ? { executable } : { bundle }),
      manPage: `${root}/man/${COMMAND}.1`,
      gzipMan: true,
    });
    const doc = `${tree}/usr/share/doc/${DEB_NAME}`;
    await makeDirs(`${doc}/examples`);
    const te = new TextEncoder();
    // Documentation over 4 kB gzip-compressed (Debian Policy 12.3), the small example plain.
    const docFiles: [string, Uint8Array][] = [
      ["copyright", await Deno.readFile(`${root}/packaging/copyright`)],
      ["changelog.Debian.gz", await gzip(te.encode(changelog))],
      ["README.md.gz", await gzip(await Deno.readFile(`${root}/README.md`))],
      [`examples/${EXAMPLE_CONFIG}`, await Deno.readFile(`${root}/packaging/${EXAMPLE_CONFIG}`)],
    ];
    for (const [name, data] of docFiles) {
      await Deno.writeFile(`${doc}/${name}`, data, { mode: 0o644 });
      await Deno.chmod(`${doc}/${name}`, 0o644);
    }

    // The C libraries of the ELF file we ship (the runtime or the single executable).
    const elf = executable ? `${tree}/usr/bin/${COMMAND}` : `${tree}/usr/${RUNTIME_SUBPATH}`;
    const depends = [...libraryDepends(await Deno.readFile(elf)), ...RUN_DEPENDS];

    // Lintian tags about the Deno build, which we ship as released (README: Lintian).
    const overrides = `${tree}/usr/share/lintian/overrides/${DEB_NAME}`;
    await makeDirs(overrides.slice(0, overrides.lastIndexOf("/")));
    await Deno.writeTextFile(overrides, lintianOverrides(elf.slice(tree.length + 1)), {
      mode: 0o644,
    });
    await Deno.chmod(overrides, 0o644);

    // md5sums of regular files, as dpkg records them.
    const sums: string[] = [];
    for (const f of files.filter((f) => f.kind === "file")) {
      sums.push(`${await md5(`${tree}${f.path}`)}  ${f.path.slice(1)}`);
    }
    for (const [n] of docFiles) {
      sums.push(`${await md5(`${doc}/${n}`)}  usr/share/doc/${DEB_NAME}/${n}`);
    }
    sums.push(`${await md5(overrides)}  usr/share/lintian/overrides/${DEB_NAME}`);
    const sizeKiB = Number((await output("du", ["-sk", "--apparent-size", tree])).split(/\s/)[0]);
    await makeDirs(`${tree}/DEBIAN`);
    await Deno.writeTextFile(`${tree}/DEBIAN/md5sums`, sums.join("\n") + "\n");
    await Deno.writeTextFile(
      `${tree}/DEBIAN/control`,
      [
        `Package: ${DEB_NAME}`,
        `Version: ${debVersion}`,
        `Architecture: ${arch}`,
        `Maintainer: ${MAINTAINER}`,
        `Installed-Size: ${sizeKiB}`,
        `Depends: ${depends.join(", ")}`,
        "Section: database",
        "Priority: optional",
        ...(HOMEPAGE ? [`Homepage: ${HOMEPAGE}`] : []),
        "Description: encrypted rsync State Snapshot Transfer method for MariaDB Galera",
        " wsrep_sst_rsync_tunnel is a State Snapshot Transfer (SST) method for",
        " MariaDB Galera (wsrep_sst_method = rsync_tunnel). The donor's data",
        " directory is copied to the joiner by rsync through socat OpenSSL tunnels",
        " with mutual certificate verification; no plaintext port is opened, and",
        " every connection is bound to a per-SST secret.",
        " .",
        " The package also holds the operator commands: check (a node, or the TLS",
        " link between two nodes) and certs (a CA and node certificates made with",
        " openssl). It ships its own copy of the Deno runtime that runs it.",
        "",
      ].join("\n"),
    );
    // Every directory 0755, every file 0644 or 0755, whatever the umask (dpkg-deb refuses a
    // control directory of mode 0750, and the modes are the installed ones).
    await normalizeModes(tree);
    const deb = `${out}/${DEB_NAME}_${debVersion}_${arch}.deb`;
    await output("dpkg-deb", [
      "--root-owner-group",
      ...(values.fast ? FAST_COMPRESSION : DEB_COMPRESSION),
      "--build",
      tree,
      deb,
    ]);
    console.log(deb);
  });
});

/**
 * The lintian overrides: what lintian says about the Deno runtime (built by the Deno project
 * with its own flags and statically linked libraries, shipped unchanged so that users run what
 * CI tested), and that this package closes no Debian ITP bug (it is not uploaded to Debian).
 */
function lintianOverrides(elf: string): string {
  return [
    "# The Deno runtime is shipped exactly as the Deno project released it (the build that",
    "# tested the bundle); its link flags and built-in libraries are Deno's, not ours.",
    `${DEB_NAME}: embedded-library lcms2 [${elf}]`,
    `${DEB_NAME}: hardening-no-relro [${elf}]`,
    "# Not uploaded to Debian, so there is no ITP bug to close.",
    `${DEB_NAME}: initial-upload-closes-no-bugs`,
    "",
  ].join("\n");
}

/** `gzip -9n` of `data` (no name or time stamp: reproducible). */
async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const gz = new Deno.Command("gzip", { args: ["-9n"], stdin: "piped", stdout: "piped" }).spawn();
  const w = gz.stdin.getWriter();
  await w.write(data);
  await w.close();
  const out = await gz.output();
  if (out.code !== 0) fail(`gzip -9n exited ${out.code}`);
  return out.stdout;
}

async function md5(path: string): Promise<string> {
  return (await output("md5sum", [path])).split(" ")[0];
}
