/**
 * The installed layout, shared by `deno task install`, `deno task deb` and `deno task rpm`:
 *
 * - bundle mode (no compiled executable): `<prefix>/bin/wsrep_sst_rsync_tunnel` is a launcher
 *   that runs `<prefix>/lib/wsrep_sst_rsync_tunnel/wsrep_sst_rsync_tunnel.js` with the Deno
 *   runtime shipped beside it, `<prefix>/lib/wsrep_sst_rsync_tunnel/deno` (the very `deno`
 *   binary that built and tested the bundle). A `deno` on PATH is never used.
 * - compiled mode: `<prefix>/bin/wsrep_sst_rsync_tunnel` is the single executable of
 *   `deno compile` (bundle and runtime in one file).
 * - both: the man page, and every name of {@link ALIASES} as a link to the command.
 *
 * The launcher finds the library directory from its own (resolved) path, so the same file works
 * in `/usr`, under another `--prefix`, in a `--destdir` staging root and in a package payload
 * unpacked elsewhere.
 *
 * The private directory is `<prefix>/lib/wsrep_sst_rsync_tunnel` (the .deb, the install task) or,
 * with `privateDir: "libexec"`, `<prefix>/libexec/wsrep_sst_rsync_tunnel` (the RPM: Fedora and
 * RHEL keep architecture-specific private programs in /usr/libexec, whose SELinux file context
 * is `bin_t`, which the confined `mysqld_t` may execute; /usr/lib gets `lib_t`, which it may not).
 *
 * @module
 */
import { DENO_RUN_FLAGS } from "../src/proc/self.ts";
import { NAME_ENV, WAN_NAME } from "../src/core/program_name.ts";
import { makeDirs } from "./staging.ts";

/** The command mariadbd runs for `wsrep_sst_method = rsync_tunnel`. */
export const COMMAND = "wsrep_sst_rsync_tunnel";

/**
 * More names installed as links to {@link COMMAND} (with a man page link each): one line per
 * alias. `wsrep_sst_rsync_tunnel_wan` is `wsrep_sst_method = rsync_tunnel_wan`: the same program,
 * whose `[sst] delta=auto` means delta transfer (src/config/delta.ts).
 */
export const ALIASES: readonly string[] = [
  WAN_NAME,
];

/** Where below the prefix the private directory is: `lib` (.deb, install task) or `libexec` (RPM). */
export type PrivateDir = "lib" | "libexec";

/** The program's private directory below the prefix. */
export function privateSubdir(dir: PrivateDir = "lib"): string {
  return `${dir}/wsrep_sst_rsync_tunnel`;
}
/** The program's private directory below the prefix (.deb and install task). */
export const LIB_SUBDIR = privateSubdir("lib");
/** The bundle's name in the private directory. */
export const BUNDLE_NAME = "wsrep_sst_rsync_tunnel.js";
/** The private Deno runtime's name in the private directory. */
export const RUNTIME_NAME = "deno";
/** Where the bundle lives below the prefix (.deb and install task). */
export const BUNDLE_SUBPATH = `${LIB_SUBDIR}/${BUNDLE_NAME}`;
/** Where the private Deno runtime lives below the prefix (.deb and install task). */
export const RUNTIME_SUBPATH = `${LIB_SUBDIR}/${RUNTIME_NAME}`;

/**
 * Environment the launcher gives the runtime. `DENO_DIR` names a directory that cannot exist
 * (below the character device /dev/null, even for root): Deno then keeps its caches in memory
 * and writes nothing at run time; the bundle has no remote or npm import, so nothing is missing.
 * No update check; no package.json read from the working directory (mariadbd's is the datadir).
 */
export const LAUNCHER_ENV: Readonly<Record<string, string>> = {
  DENO_DIR: "/dev/null/wsrep_sst_rsync_tunnel",
  DENO_NO_UPDATE_CHECK: "1",
  DENO_NO_PACKAGE_JSON: "1",
};

/**
 * The shell line that passes on the name the launcher was called by (its link name when run as
 * an alias): the bundle run by the runtime sees `deno` as its argv[0].
 */
export const NAME_EXPORT = `export ${NAME_ENV}="\${0##*/}"`;

/** The launcher's text, for the private directory `dir`. */
export function relativeLauncher(dir: PrivateDir = "lib"): string {
  const env = Object.entries(LAUNCHER_ENV).map(([k, v]) => `${k}=${v}`).join(" ");
  const sub = privateSubdir(dir);
  return [
    "#!/bin/sh",
    `# ${COMMAND}: runs the bundle installed in ../${sub}/ with the Deno runtime`,
    "# installed beside it (never a deno found in PATH). Written by scripts/launcher.ts.",
    'self=$(readlink -f -- "$0" 2>/dev/null) || self=$0',
    `lib="\${self%/*}/../${sub}"`,
    `export ${env}`,
    NAME_EXPORT,
    `exec "$lib/${RUNTIME_NAME}" run ${DENO_RUN_FLAGS.join(" ")} "$lib/${BUNDLE_NAME}" "$@"`,
    "",
  ].join("\n");
}

/** What {@link stage} writes. */
export interface StageOptions {
  /** Staging root prefixed to every path ("" = the real file system). */
  destdir: string;
  /** Absolute installation prefix, e.g. `/usr`. */
  prefix: string;
  /** The bundle (bundle mode) … */
  bundle?: string;
  /** … and the Deno runtime to ship beside it (default: the running `deno`). */
  runtime?: string;
  /** Or the single executable of `deno compile` (compiled mode). */
  executable?: string;
  /** The man page source (roff). */
  manPage: string;
  /** Store the man page gzip-compressed (packages) instead of plain (install task). */
  gzipMan?: boolean;
  /** Alias names (default {@link ALIASES}; tests give others). */
  aliases?: readonly string[];
  /** Where the private directory is (default `lib`; the RPM's is `libexec`). */
  privateDir?: PrivateDir;
}

/** One installed file: its path in the target system, and whether it is a link. */
export interface StagedFile {
  path: string;
  kind: "file" | "link";
}

async function put(src: string | Uint8Array, dest: string, mode: number): Promise<void> {
  await makeDirs(dest.slice(0, dest.lastIndexOf("/"))); // 0755 whatever the umask
  const tmp = `${dest}.new-${Deno.pid}`;
  if (typeof src === "string") await Deno.copyFile(src, tmp);
  else await Deno.writeFile(tmp, src);
  await Deno.chmod(tmp, mode);
  await Deno.rename(tmp, dest); // atomic: a running SST keeps its old file
}

async function link(target: string, dest: string): Promise<void> {
  await Deno.remove(dest).catch(() => {});
  await Deno.symlink(target, dest);
}

async function gzip(data: Uint8Array): Promise<Uint8Array> {
  // `gzip -9n`: no name or time stamp in the header, so the package is reproducible.
  const p = new Deno.Command("gzip", { args: ["-9n"], stdin: "piped", stdout: "piped" }).spawn();
  const w = p.stdin.getWriter();
  await w.write(data);
  await w.close();
  const out = await p.output();
  if (out.code !== 0) throw new Error("gzip failed");
  return out.stdout;
}

/** The paths the layout has in the target system (for uninstall and package file lists). */
export function layoutPaths(
  prefix: string,
  compiled: boolean,
  gzipMan: boolean,
  aliases: readonly string[] = ALIASES,
  privateDir: PrivateDir = "lib",
): StagedFile[] {
  const p = prefix.replace(/\/+$/, "");
  const sub = privateSubdir(privateDir);
  const man = (n: string) => `${p}/share/man/man1/${n}.1${gzipMan ? ".gz" : ""}`;
  return [
    { path: `${p}/bin/${COMMAND}`, kind: "file" },
    ...(compiled ? [] : [
      { path: `${p}/${sub}/${BUNDLE_NAME}`, kind: "file" as const },
      { path: `${p}/${sub}/${RUNTIME_NAME}`, kind: "file" as const },
    ]),
    { path: man(COMMAND), kind: "file" },
    ...aliases.flatMap((a) => [
      { path: `${p}/bin/${a}`, kind: "link" as const },
      { path: man(a), kind: "link" as const },
    ]),
  ];
}

/** Writes the layout below `destdir`; returns what it wrote. */
export async function stage(o: StageOptions): Promise<StagedFile[]> {
  const p = `${o.destdir.replace(/\/+$/, "")}${o.prefix.replace(/\/+$/, "")}`;
  const compiled = o.executable !== undefined;
  if (compiled) {
    await put(o.executable!, `${p}/bin/${COMMAND}`, 0o755);
  } else {
    if (!o.bundle) throw new Error("stage: give the bundle or a compiled executable");
    const lib = `${p}/${privateSubdir(o.privateDir)}`;
    await put(o.bundle, `${lib}/${BUNDLE_NAME}`, 0o644);
    await put(await Deno.realPath(o.runtime ?? Deno.execPath()), `${lib}/${RUNTIME_NAME}`, 0o755);
    await put(
      new TextEncoder().encode(relativeLauncher(o.privateDir)),
      `${p}/bin/${COMMAND}`,
      0o755,
    );
  }
  const roff = await Deno.readFile(o.manPage);
  const ext = o.gzipMan ? ".1.gz" : ".1";
  await put(o.gzipMan ? await gzip(roff) : roff, `${p}/share/man/man1/${COMMAND}${ext}`, 0o644);
  for (const a of o.aliases ?? ALIASES) {
    await link(COMMAND, `${p}/bin/${a}`);
    await link(`${COMMAND}${ext}`, `${p}/share/man/man1/${a}${ext}`);
  }
  return layoutPaths(o.prefix, compiled, o.gzipMan ?? false, o.aliases ?? ALIASES, o.privateDir);
}
