/**
 * Size, free space and type of the file system holding a path, from libc's `statfs(2)` (Deno
 * has no `statfs`/`statvfs`). `struct statfs` has one layout on 64-bit Linux (x86_64 and
 * aarch64): eleven 8-byte words, then spares.
 *
 * @module
 */

const STATFS_SIZE = 120;

type Libc = Deno.DynamicLibrary<{
  statfs: { parameters: ["buffer", "buffer"]; result: "i32" };
}>;

let libc: Libc | null = null;

function open(): Libc {
  libc ??= Deno.dlopen("libc.so.6", {
    statfs: { parameters: ["buffer", "buffer"], result: "i32" },
  });
  return libc;
}

/** The file system magic numbers we name (`<linux/magic.h>`). */
const TYPES: Record<number, string> = {
  0xef53: "ext4",
  0x58465342: "xfs",
  0x9123683e: "btrfs",
  0xca451a4e: "bcachefs",
  0x2fc12fc1: "zfs",
  0x01021994: "tmpfs",
  0x794c7630: "overlayfs",
  0x6969: "nfs",
  0xff534d42: "cifs",
};

/** What {@link statFs} reads, in bytes. */
export interface FsSpace {
  /** The file system's name (`xfs`, `btrfs`, `ext4`, …) or its magic number in hex. */
  type: string;
  /** Size of the data area. */
  total: number;
  /** Free to an unprivileged user (`f_bavail`): what mariadbd, not root, may still write. */
  available: number;
}

/** The file system of `path` (links followed); null when `statfs` fails. */
export function statFs(path: string): FsSpace | null {
  const buf = new Uint8Array(STATFS_SIZE);
  if (open().symbols.statfs(new TextEncoder().encode(path + "\0"), buf) !== 0) return null;
  const v = new DataView(buf.buffer);
  const word = (i: number) => Number(v.getBigUint64(i * 8, true));
  const magic = word(0);
  const unit = word(9) || word(1); // f_frsize, else f_bsize: the unit of the block counts
  return {
    type: TYPES[magic] ?? `0x${magic.toString(16)}`,
    total: word(2) * unit,
    available: word(4) * unit,
  };
}
