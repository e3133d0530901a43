/**
 * mariadbd leaks both ends of its stdout pipe, its error log, `grastate.dat` and more into
 * the script (docs/sst-protocol.md §1.2). A descendant that inherits the pipe keeps mariadbd from seeing EOF,
 * so at start every inherited descriptor ≥ 3 is marked close-on-exec via libc `fcntl`.
 *
 * @module
 */

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/** Descriptors ≥ 3 open in this process, from procfs. */
export function openDescriptors(): number[] {
  const out: number[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    const fd = Number(entry.name);
    if (Number.isInteger(fd) && fd >= 3) out.push(fd);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Marks every descriptor ≥ 3 close-on-exec. Returns how many were changed. Throws if libc
 * cannot be loaded (a bug on Linux: we refuse to run with leaking descriptors).
 */
export function markInheritedCloseOnExec(): number {
  const libc = Deno.dlopen("libc.so.6", {
    fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  });
  try {
    let changed = 0;
    for (const fd of openDescriptors()) {
      const flags = libc.symbols.fcntl(fd, F_GETFD, 0);
      if (flags < 0 || (flags & FD_CLOEXEC) !== 0) continue;
      if (libc.symbols.fcntl(fd, F_SETFD, flags | FD_CLOEXEC) === 0) changed++;
    }
    return changed;
  } finally {
    libc.close();
  }
}
