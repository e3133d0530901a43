/**
 * Directory entries as bytes, from libc's `opendir(3)`/`readdir(3)`. Names on Linux are bytes;
 * `Deno.readDir` hands them over as strings, replacing what is not UTF-8 with U+FFFD, and such
 * a name reaches nothing: neither Deno nor rsync's argv can name the entry. Here a name stays
 * its bytes, and {@link withRawDir} opens a directory by its bytes and lends a path that reaches
 * it (`/proc/self/fd/<n>`, valid while the callback runs).
 *
 * `struct dirent` has one layout on every 64-bit Linux (glibc): `d_reclen` at 16, `d_name` at
 * 19. `opendir` opens with close-on-exec: no child inherits the descriptor.
 *
 * @module
 */

type Libc = Deno.DynamicLibrary<{
  opendir: { parameters: ["buffer"]; result: "pointer" };
  readdir: { parameters: ["pointer"]; result: "pointer" };
  closedir: { parameters: ["pointer"]; result: "i32" };
  dirfd: { parameters: ["pointer"]; result: "i32" };
}>;

let libc: Libc | null = null;

function open(): Libc {
  libc ??= Deno.dlopen("libc.so.6", {
    opendir: { parameters: ["buffer"], result: "pointer" },
    readdir: { parameters: ["pointer"], result: "pointer" },
    closedir: { parameters: ["pointer"], result: "i32" },
    dirfd: { parameters: ["pointer"], result: "i32" },
  });
  return libc;
}

const D_RECLEN = 16;
const D_NAME = 19;

/** `dir` (a path Deno can name) joined with `name` (bytes), NUL-terminated. */
function pathBytes(dir: string, name?: Uint8Array): Uint8Array<ArrayBuffer> {
  const head = new TextEncoder().encode(name ? `${dir}/` : dir);
  const out = new Uint8Array(head.length + (name?.length ?? 0) + 1);
  out.set(head);
  if (name) out.set(name, head.length);
  return out;
}

/** `name` as text when it is UTF-8, else null. */
export function utf8Name(name: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(name);
  } catch {
    return null;
  }
}

/** `name` as text for messages (what is not UTF-8 shown as `\ooo`, as rsync does). */
export function displayName(name: Uint8Array): string {
  return utf8Name(name) ??
    [...name].map((b) => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\${b.toString(8)}`)
      .join("");
}

function openDir(path: Uint8Array<ArrayBuffer>): Deno.PointerValue {
  return open().symbols.opendir(path);
}

/**
 * The names (bytes, without `.` and `..`) in directory `dir`, or null when it cannot be opened
 * (the caller's own `Deno.readDir` then reports why).
 */
export function rawDirNames(dir: string): Uint8Array[] | null {
  const d = openDir(pathBytes(dir));
  if (d === null) return null;
  const c = open().symbols;
  try {
    const out: Uint8Array[] = [];
    for (let e = c.readdir(d); e !== null; e = c.readdir(d)) {
      const view = new Deno.UnsafePointerView(e);
      const reclen = view.getUint16(D_RECLEN);
      const raw = new Uint8Array(view.getArrayBuffer(reclen - D_NAME, D_NAME));
      const name = raw.slice(0, raw.indexOf(0) < 0 ? raw.length : raw.indexOf(0));
      if (
        !(name.length === 1 && name[0] === 0x2e) &&
        !(name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)
      ) {
        out.push(name);
      }
    }
    return out;
  } finally {
    c.closedir(d);
  }
}

/**
 * Runs `body` with a path reaching the directory `name` (bytes) in `dir`, links followed, or
 * returns null when it is no directory (or cannot be opened).
 */
export async function withRawDir<T>(
  dir: string,
  name: Uint8Array,
  body: (path: string) => Promise<T>,
): Promise<T | null> {
  const d = openDir(pathBytes(dir, name));
  if (d === null) return null;
  const c = open().symbols;
  try {
    return await body(`/proc/self/fd/${c.dirfd(d)}`);
  } finally {
    c.closedir(d);
  }
}
