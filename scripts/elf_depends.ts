/**
 * The Debian dependencies of the ELF file a package ships (see {@link libraryDepends}).
 *
 * @module
 */

/**
 * Debian dependencies of an ELF file's C libraries: `libc6 (>= the newest GLIBC_x.y symbol
 * version it needs)`, and `libgcc-s1` when it needs libgcc_s.so.1. dpkg-shlibdeps would do this,
 * but on a newer build host it answers with that host's libc (Debian 12: libc6 >= 2.34, because
 * libdl and libpthread moved into libc there), which Debian 11 cannot install.
 */
export function libraryDepends(elf: Uint8Array): string[] {
  const text = new TextDecoder("latin1").decode(elf);
  const versions = [...text.matchAll(/(?<=\0)GLIBC_(2\.\d+(?:\.\d+)?)(?=\0)/g)].map((m) => m[1]);
  if (versions.length === 0) return [];
  const num = (v: string) => v.split(".").map(Number);
  const newest = versions.reduce((a, b) => {
    const [x, y] = [num(a), num(b)];
    for (let i = 0; i < 3; i++) {
      if ((x[i] ?? 0) !== (y[i] ?? 0)) {
        return (x[i] ?? 0) > (y[i] ?? 0) ? a : b;
      }
    }
    return a;
  });
  return [`libc6 (>= ${newest})`, ...(text.includes("\0libgcc_s.so.1\0") ? ["libgcc-s1"] : [])];
}
