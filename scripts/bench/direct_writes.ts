/**
 * Writes as InnoDB makes them to a hot table, for the micro-benchmarks (clone_fragments.ts,
 * clone_delta.ts, clone_parallel.ts, locked_split.ts): sequential 1 MiB and random 16 KiB page
 * writes with `O_DIRECT` through libc, page-aligned buffers, descriptors opened by path, and
 * dropping a file's cached pages (Deno has neither `O_DIRECT` nor `posix_fadvise`).
 *
 * @module
 */

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_CLOEXEC = 0o2000000;
export const O_DIRECT = 0o40000; // x86_64 and aarch64 differ: these benches are x86_64's

/** The libc calls the benchmarks make (`ioctl` with a buffer argument). */
export const libc = Deno.dlopen("libc.so.6", {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  fsync: { parameters: ["i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32" },
}).symbols;

const POSIX_FADV_DONTNEED = 4;

export const MiB = 1024 ** 2;
/** InnoDB's default page size. */
export const PAGE = 16 * 1024;

/** Opens `path` with `flags` (mode 0600 when created); throws when it cannot. */
export function openFd(path: string, flags: number): number {
  const fd = libc.open(new TextEncoder().encode(path + "\0"), flags, 0o600);
  if (fd < 0) throw new Error(`open ${path} failed`);
  return fd;
}

/** A 4096-aligned buffer of `n` zero bytes (O_DIRECT's alignment). */
export function alignedBuffer(n: number): Uint8Array {
  const raw = new Uint8Array(n + 4096);
  const addr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(raw)));
  return raw.subarray((4096 - (addr % 4096)) % 4096).subarray(0, n);
}

/** A 4096-aligned buffer of `n` random bytes. */
function aligned(n: number): Uint8Array {
  const view = alignedBuffer(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(view.subarray(i, i + 65536));
  return view;
}

/** Drops the cached pages of `path` (clean ones: it is synced first). */
export function evict(path: string): void {
  const fd = openFd(path, O_RDONLY | O_CLOEXEC);
  try {
    libc.fsync(fd);
    libc.posix_fadvise(fd, 0n, 0n, POSIX_FADV_DONTNEED);
  } finally {
    libc.close(fd);
  }
}

function pwriteAll(fd: number, buf: Uint8Array, off: number): void {
  if (Number(libc.pwrite(fd, buf, BigInt(buf.length), BigInt(off))) !== buf.length) {
    throw new Error("short pwrite");
  }
}

/** `bytes` in 1 MiB O_DIRECT writes to a new file, fsync at the end. */
export function writeSequential(path: string, bytes: number): void {
  const fd = openFd(path, O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC);
  const buf = aligned(MiB);
  for (let off = 0; off < bytes; off += MiB) pwriteAll(fd, buf, off);
  libc.fsync(fd);
  libc.close(fd);
}

/** `n` random page-aligned 16 KiB O_DIRECT writes within `bytes`, fsync every 64. */
export function writeRandomPages(path: string, bytes: number, n: number): void {
  const fd = openFd(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
  const buf = aligned(PAGE);
  const pages = Math.floor(bytes / PAGE);
  for (let i = 0; i < n; i++) {
    buf[0] = i & 0xff;
    pwriteAll(fd, buf, Math.floor(Math.random() * pages) * PAGE);
    if (i % 64 === 63) libc.fsync(fd);
  }
  libc.fsync(fd);
  libc.close(fd);
}
