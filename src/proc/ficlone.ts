/**
 * A copy-on-write clone of one file with the `FICLONE` ioctl (XFS with `reflink=1`, btrfs,
 * bcachefs, OpenZFS 2.2+ with block cloning), through libc as `fcntl` in fd_hygiene.ts. The clone
 * shares every block with its source until one of them is written, so it costs metadata
 * operations per extent of the source, not per byte (7–9 µs per extent on btrfs, 14 on XFS:
 * docs/benchmarks.md "What a clone costs under the lock"). Never a copy: where the file system
 * cannot clone, the result says so ({@link CloneResult}) and nothing was written; there is no
 * `copy_file_range`, `Deno.copyFile` or `--reflink=auto` fallback here, which would silently
 * read and write the whole file (under the donor's lock, that is exactly the cost clones avoid).
 *
 * What the clone carries, so that rsync sends it as it would send the source (rsync sends the
 * file it opens: its size, content, mode and, with `--owner --group`, owner and group; it
 * sends the modification time in the file list even without `--times`): content and size from
 * the ioctl; owner and group (`fchown`, only when they differ from ours: a non-root donor can
 * give a clone only its own uid), permission bits (`fchmod`, after `fchown`, which may clear
 * set-id bits) and access and modification times to the nanosecond (`futimens`, last). The
 * change time and the inode number are the clone's own; nothing rsync sends reads them.
 *
 * `struct statx` and `struct timespec` have one layout on every 64-bit Linux architecture; the
 * open flags used here (`O_WRONLY`, `O_CREAT`, `O_EXCL`, `O_CLOEXEC`) have the same values on
 * x86_64 and aarch64. errno is read through glibc's `__errno_location` right after the call that
 * failed, on the same thread (FFI calls that are not `nonblocking` run on the calling thread).
 *
 * @module
 */

/** `_IOW(0x94, 9, int)`, `<linux/fs.h>`. */
export const FICLONE = 0x40049409;
/** `_IOR('f', 1, long)`, `<linux/fs.h>`: the inode flags (`chattr`). */
const FS_IOC_GETFLAGS = 0x80086601;
/** `FS_NOCOW_FL`: btrfs `chattr +C` (nodatacow). */
const FS_NOCOW_FL = 0x00800000;
/** `_IOWR('f', 11, struct fiemap)`, `<linux/fs.h>`; `struct fiemap` without extents: 32 bytes. */
const FS_IOC_FIEMAP = 0xc020660b;
const FIEMAP_SIZE = 32;

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_CLOEXEC = 0o2000000;
const AT_EMPTY_PATH = 0x1000;
const STATX_BASIC_STATS = 0x7ff;
const STATX_SIZE = 256;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/** errno values (asm-generic, the same on x86_64 and aarch64). */
const ERRNO: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  9: "EBADF",
  13: "EACCES",
  17: "EEXIST",
  18: "EXDEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  25: "ENOTTY",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  30: "EROFS",
  40: "ELOOP",
  95: "EOPNOTSUPP",
  122: "EDQUOT",
};

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "i32"], result: "i32" },
  ioctlBuffer: { name: "ioctl", parameters: ["i32", "u64", "buffer"], result: "i32" },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;

function lib(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  libc ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return libc.symbols;
}

/** The errno of the call that just failed, by name (`E<number>` when not in the table). */
function lastErrno(): string {
  const p = lib().__errno_location();
  const n = p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
  return ERRNO[n] ?? `E${n}`;
}

/** A failed libc call, with the errno name as `code` (what core/fs_errors.ts reads). */
export class ErrnoError extends Error {
  constructor(readonly code: string, readonly call: string, readonly path: string) {
    super(`${call} ${path}: ${code}`);
    this.name = "ErrnoError";
  }
}

/** What the clone must carry of its source (from `statx`). */
export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
  size: bigint;
  atime: { sec: bigint; nsec: number };
  mtime: { sec: bigint; nsec: number };
  dev: string;
}

function cString(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

const EMPTY = cString("");

/** The metadata of an open descriptor. */
function fdMeta(fd: number, path: string): FileMeta {
  const buf = new Uint8Array(STATX_SIZE);
  if (lib().statx(fd, EMPTY, AT_EMPTY_PATH, STATX_BASIC_STATS, buf) !== 0) {
    throw new ErrnoError(lastErrno(), "statx", path);
  }
  const v = new DataView(buf.buffer);
  const ts = (at: number) => ({ sec: v.getBigInt64(at, true), nsec: v.getUint32(at + 8, true) });
  return {
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    mode: v.getUint16(28, true),
    size: v.getBigUint64(40, true),
    atime: ts(64),
    mtime: ts(112),
    dev: `${v.getUint32(136, true)}:${v.getUint32(140, true)}`,
  };
}

/** The metadata of `path`, links followed (as rsync `--copy-links` reads it). */
export function fileMeta(path: string): FileMeta {
  const fd = openOrThrow(path, O_RDONLY | O_CLOEXEC, 0);
  try {
    return fdMeta(fd, path);
  } finally {
    lib().close(fd);
  }
}

function openOrThrow(path: string, flags: number, mode: number): number {
  const fd = lib().open(cString(path), flags, mode);
  if (fd < 0) throw new ErrnoError(lastErrno(), "open", path);
  return fd;
}

/** Why a file system (or this file) cannot be cloned: the errno and one phrase. */
export interface CannotClone {
  kind: "cannot-clone";
  errno: string;
  reason: string;
}

/** What {@link cloneFile} did. `cannot-clone` left nothing behind at the destination. */
export type CloneResult =
  | { kind: "cloned"; size: bigint }
  | CannotClone;

/** The phrase for an ioctl errno that means "no clone here", or null for a real failure. */
function cannotCloneReason(errno: string): string | null {
  switch (errno) {
    case "EOPNOTSUPP":
    case "ENOTTY":
      return "the file system does not support clones";
    case "EXDEV":
      return "source and clone are on different file systems";
    case "EINVAL":
      return "the file system refuses to clone this file (reflink=0, a btrfs nodatacow file, " +
        "a realtime or DAX file)";
    case "ETXTBSY":
      return "the file is a swap file or active";
    default:
      return null;
  }
}

/**
 * Clones `source` (links followed) to the new file `dest` (which must not exist; its directory
 * must) with {@link FICLONE} and gives it the source's owner, group, mode and times. Returns
 * `cannot-clone` when the file system or the file cannot be cloned there (EOPNOTSUPP, EXDEV,
 * EINVAL; or an owner we may not give), with `dest` removed. Throws {@link ErrnoError} for
 * everything else, ENOSPC and EDQUOT included (the caller maps them with core/fs_errors.ts).
 */
export function cloneFile(source: string, dest: string): CloneResult {
  const src = openOrThrow(source, O_RDONLY | O_CLOEXEC, 0);
  try {
    const meta = fdMeta(src, source);
    if ((meta.mode & S_IFMT) !== S_IFREG) {
      return { kind: "cannot-clone", errno: "EINVAL", reason: "not a regular file" };
    }
    const dst = openOrThrow(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600);
    let keep = false;
    try {
      const result = cloneInto(src, dst, meta, dest);
      keep = result.kind === "cloned";
      return result;
    } finally {
      lib().close(dst);
      if (!keep) lib().unlink(cString(dest));
    }
  } finally {
    lib().close(src);
  }
}

function cloneInto(src: number, dst: number, meta: FileMeta, dest: string): CloneResult {
  const c = lib();
  if (c.ioctl(dst, BigInt(FICLONE), src) !== 0) {
    const errno = lastErrno();
    const reason = cannotCloneReason(errno);
    if (reason === null) throw new ErrnoError(errno, "ioctl FICLONE", dest);
    return { kind: "cannot-clone", errno, reason };
  }
  const own = fdMeta(dst, dest);
  if ((own.uid !== meta.uid || own.gid !== meta.gid) && c.fchown(dst, meta.uid, meta.gid) !== 0) {
    const errno = lastErrno();
    if (errno !== "EPERM") throw new ErrnoError(errno, "fchown", dest);
    return {
      kind: "cannot-clone",
      errno,
      reason: `owned by uid ${meta.uid} gid ${meta.gid}, which a clone made by uid ` +
        `${own.uid} cannot be given`,
    };
  }
  if (c.fchmod(dst, meta.mode & 0o7777) !== 0) throw new ErrnoError(lastErrno(), "fchmod", dest);
  const times = new DataView(new ArrayBuffer(32));
  times.setBigInt64(0, meta.atime.sec, true);
  times.setBigInt64(8, BigInt(meta.atime.nsec), true);
  times.setBigInt64(16, meta.mtime.sec, true);
  times.setBigInt64(24, BigInt(meta.mtime.nsec), true);
  if (c.futimens(dst, new Uint8Array(times.buffer)) !== 0) {
    throw new ErrnoError(lastErrno(), "futimens", dest);
  }
  const size = fdMeta(dst, dest).size;
  if (size !== meta.size) {
    throw new Error(`clone ${dest} has ${size} bytes, its source ${meta.size}`);
  }
  return { kind: "cloned", size };
}

/**
 * How many pieces (extents) the file at `path` is in on disk, as `filefrag` counts them: the
 * `FS_IOC_FIEMAP` ioctl asked for the count only (`fm_extent_count` 0: nothing is written back
 * or listed). What a clone of it costs grows with this number. Null where the file system does
 * not map extents or the file cannot be opened.
 */
export function extentCount(path: string): number | null {
  const fd = lib().open(cString(path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return null;
  try {
    const map = new Uint8Array(FIEMAP_SIZE);
    const v = new DataView(map.buffer);
    v.setBigUint64(8, 0xffffffffffffffffn, true); // fm_length: to the end of the file
    if (lib().ioctlBuffer(fd, BigInt(FS_IOC_FIEMAP), map) !== 0) return null;
    return v.getUint32(20, true); // fm_mapped_extents
  } finally {
    lib().close(fd);
  }
}

/**
 * Whether the file or directory at `path` carries btrfs' nodatacow flag (`chattr +C`, inherited
 * by new files in a directory); false where the file system has no such flag.
 */
export function noCow(path: string): boolean {
  const fd = openOrThrow(path, O_RDONLY | O_CLOEXEC, 0);
  try {
    const flags = new Uint8Array(8);
    if (lib().ioctlBuffer(fd, BigInt(FS_IOC_GETFLAGS), flags) !== 0) return false;
    return (new DataView(flags.buffer).getUint32(0, true) & FS_NOCOW_FL) !== 0;
  } finally {
    lib().close(fd);
  }
}
