/**
 * Real file systems for clone tests and benchmarks: an image file in a temporary directory, made
 * with mkfs, loop-mounted (root), unmounted and removed on teardown. XFS with `reflink=1` and
 * btrfs clone; ext4 does not (the negative case). `.ci/run` installs xfsprogs and btrfs-progs on the
 * host, scripts/roots.ts in the Debian roots.
 * {@link datadirOn} puts a node's datadir on such a file system.
 *
 * Sizes: mkfs.xfs (5.19 and later) refuses a file system under 300 MB, so an XFS image is at
 * least 320 MiB; the image is sparse, and only what a test writes takes disk space.
 *
 * @module
 */

import { MYSQL_USER, type Node } from "./cluster.ts";

/** The file systems a test can ask for. */
export type LoopFsType = "xfs" | "btrfs" | "ext4";

/** Every {@link LoopFsType}. */
export const LOOP_FS_TYPES: readonly LoopFsType[] = ["xfs", "btrfs", "ext4"];

/** A mounted image (or, for a benchmark's joiner, a tmpfs: {@link makeTmpFs}). */
export interface LoopFs {
  type: LoopFsType | "tmpfs";
  /** The mount point (mode 0755). */
  dir: string;
  /** Unmounts and removes the image and its directory (idempotent). */
  teardown(): Promise<void>;
}

/** Smallest image each mkfs accepts here. */
const MIN_MIB: Record<LoopFsType, number> = { xfs: 320, btrfs: 128, ext4: 16 };

/** The mkfs command line of each type (the image's path follows). */
export const MKFS: Readonly<Record<LoopFsType, readonly string[]>> = {
  xfs: ["mkfs.xfs", "-q", "-m", "reflink=1"],
  btrfs: ["mkfs.btrfs", "-q"],
  ext4: ["mkfs.ext4", "-q", "-F"],
};

/** Runs `cmd args` (no shell) and returns its stdout; throws with its stderr when it fails. */
export async function must(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
  }
  return new TextDecoder().decode(r.stdout);
}

/**
 * Makes a `type` file system of `mib` MiB (raised to the type's minimum), mounts it and returns
 * it. Needs root and the type's mkfs.
 */
export async function makeLoopFs(type: LoopFsType, mib: number): Promise<LoopFs> {
  const root = await Deno.makeTempDir({ prefix: `loopfs-${type}-` });
  const image = `${root}/image`;
  const dir = `${root}/mnt`;
  let mounted = false;
  const teardown = async () => {
    if (mounted) {
      await must("umount", [dir]).catch(() => must("umount", ["-l", dir]));
      mounted = false;
    }
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  try {
    await Deno.chmod(root, 0o755);
    const file = await Deno.open(image, { create: true, write: true });
    await file.truncate(Math.max(mib, MIN_MIB[type]) * 1024 ** 2);
    file.close();
    const [mkfs, ...opts] = MKFS[type];
    await must(mkfs, [...opts, image]);
    await Deno.mkdir(dir);
    await must("mount", ["-o", "loop", image, dir]);
    mounted = true;
    if (Deno.env.get("LOOP_DIRECT_IO") === "1") await directIo(dir);
    await Deno.chmod(dir, 0o755);
    return { type, dir, teardown };
  } catch (e) {
    await teardown();
    throw e;
  }
}

/**
 * A tmpfs of at most `mib` MiB mounted on a fresh directory: a benchmark's joiner on a device of
 * its own, as on a host of its own, so that its writes do not slow the donor's disk.
 */
export async function makeTmpFs(mib: number): Promise<LoopFs> {
  const root = await Deno.makeTempDir({ prefix: "tmpfs-" });
  const dir = `${root}/mnt`;
  let mounted = false;
  const teardown = async () => {
    if (mounted) await must("umount", [dir]).catch(() => must("umount", ["-l", dir]));
    mounted = false;
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  try {
    await Deno.chmod(root, 0o755);
    await Deno.mkdir(dir);
    await must("mount", ["-t", "tmpfs", "-o", `size=${mib}m,mode=0755`, "tmpfs", dir]);
    mounted = true;
    return { type: "tmpfs", dir, teardown };
  } catch (e) {
    await teardown();
    throw e;
  }
}

/** Runs `fn` with a fresh `type` file system, torn down whatever happens. */
export async function withLoopFs<T>(
  type: LoopFsType,
  mib: number,
  fn: (fs: LoopFs) => Promise<T>,
): Promise<T> {
  const fs = await makeLoopFs(type, mib);
  try {
    return await fn(fs);
  } finally {
    await fs.teardown();
  }
}

/**
 * Puts `node`'s datadir on `fs` (before its first start): the template datadir copied in (ext4's
 * `lost+found` removed: mariadbd would list it as a database), owned by mysql, the image
 * bind-mounted on the datadir's path. Returns the unmount (lazy: mariadbd may still hold files
 * there until the cluster's teardown kills it).
 */
export async function datadirOn(fs: LoopFs, node: Node): Promise<() => Promise<void>> {
  await Deno.remove(`${fs.dir}/lost+found`, { recursive: true }).catch(() => {});
  await must("cp", ["-a", `${node.datadir}/.`, fs.dir]);
  await must("chown", ["-R", `${MYSQL_USER}:${MYSQL_USER}`, fs.dir]);
  await must("mount", ["--bind", fs.dir, node.datadir]);
  return () => must("umount", ["-l", node.datadir]).then(() => {}, () => {});
}

/** How the loop devices {@link makeLoopFs} makes read and write their images, in words. */
export function loopIoText(): string {
  return Deno.env.get("LOOP_DIRECT_IO") === "1"
    ? "loop devices in direct I/O (`LOOP_DIRECT_IO=1`)"
    : "loop devices through the host's page cache";
}

/**
 * `LOOP_DIRECT_IO=1`: the loop device under `dir` reads and writes its image with O_DIRECT, as a
 * disk would, instead of through the host's page cache (where a flush of the file system inside
 * writes back everything the image has cached).
 */
async function directIo(dir: string): Promise<void> {
  const dev = (await must("findmnt", ["-n", "-o", "SOURCE", dir])).trim();
  await must("losetup", ["--direct-io=on", dev]);
  const dio = (await must("losetup", ["-n", "-O", "DIO", dev])).trim();
  if (dio !== "1") throw new Error(`${dev}: no direct I/O`);
}
