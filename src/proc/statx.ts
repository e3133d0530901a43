/**
 * A file's times to the nanosecond, from libc's `statx(2)`. `Deno.stat` gives the modification
 * time in milliseconds and the change time only in whole seconds, too coarse to tell that a file
 * changed after it was looked at (see src/transfer/precopy_record.ts).
 *
 * `struct statx` has one layout on every Linux architecture (offsets below, from
 * `<linux/stat.h>`); glibc has had `statx` since 2.28.
 *
 * @module
 */

/** What {@link statxTimes} reads: identity, length and the last modification and change. */
export interface StatxTimes {
  devMajor: number;
  devMinor: number;
  ino: bigint;
  size: bigint;
  /** Nanoseconds since the epoch. */
  mtimeNs: bigint;
  ctimeNs: bigint;
}

const AT_FDCWD = -100;
const STATX_BASIC_STATS = 0x7ff;
const STATX_SIZE = 256;

type Libc = Deno.DynamicLibrary<{
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"]; result: "i32" };
}>;

let libc: Libc | null = null;

function open(): Libc {
  libc ??= Deno.dlopen("libc.so.6", {
    statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  });
  return libc;
}

function timeNs(v: DataView, at: number): bigint {
  return v.getBigInt64(at, true) * 1_000_000_000n + BigInt(v.getUint32(at + 8, true));
}

/** The statx of `path`, links followed; null when it does not exist or cannot be read. */
export function statxTimes(path: string): StatxTimes | null {
  const name = new TextEncoder().encode(path + "\0");
  const buf = new Uint8Array(STATX_SIZE);
  if (open().symbols.statx(AT_FDCWD, name, 0, STATX_BASIC_STATS, buf) !== 0) return null;
  const v = new DataView(buf.buffer);
  return {
    ino: v.getBigUint64(32, true),
    size: v.getBigUint64(40, true),
    ctimeNs: timeNs(v, 96),
    mtimeNs: timeNs(v, 112),
    devMajor: v.getUint32(136, true),
    devMinor: v.getUint32(140, true),
  };
}
