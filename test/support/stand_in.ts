/**
 * A `mariadbd` that reports a chosen version (test/support/mariadbd_stand_in.c, compiled with
 * the system's C compiler): the SST program started through it finds it among its parent
 * processes and asks it for its version exactly as it asks a real server, so the loopback
 * tests need no override of how the version is found.
 *
 * @module
 */

const SOURCE = new URL("./mariadbd_stand_in.c", import.meta.url).pathname;

/**
 * Compiles the stand-in for `version` (as mariadbd prints it, e.g. `10.5.23-MariaDB-0+deb11u1`)
 * into `<dir>/mariadbd`; returns its path. Needs `cc` (Debian: gcc and libc6-dev).
 */
export async function makeMariadbdStandIn(dir: string, version: string): Promise<string> {
  if (!/^[0-9A-Za-z.+~-]+$/.test(version)) throw new Error(`odd version '${version}'`);
  await Deno.mkdir(dir, { recursive: true });
  const exe = `${dir}/mariadbd`;
  const r = await new Deno.Command("cc", {
    args: ["-O1", "-Wall", `-DSERVER_VERSION="${version}"`, "-o", exe, SOURCE],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    throw new Error(`cc failed for the mariadbd stand-in: ${new TextDecoder().decode(r.stderr)}`);
  }
  return exe;
}
