/**
 * A PATH on which no `deno` is found, for running installed copies on a host that has one (in
 * /usr/bin here): a directory of links to every command of /usr/bin but deno, then /usr/sbin.
 *
 * @module
 */
import { assert } from "../support/assert.ts";

/** Makes the directory below `dir`; returns the PATH (checked: `command -v deno` fails). */
export async function pathWithoutDeno(dir: string): Promise<string> {
  const bin = `${dir}/bin-without-deno`;
  await Deno.mkdir(bin, { recursive: true });
  for await (const e of Deno.readDir("/usr/bin")) {
    if (e.name === "deno") continue;
    await Deno.symlink(`/usr/bin/${e.name}`, `${bin}/${e.name}`);
  }
  await Deno.chmod(dir, 0o755);
  const path = `${bin}:/usr/sbin`;
  const which = await new Deno.Command("/bin/sh", {
    args: ["-c", "command -v deno"],
    env: { PATH: path },
    stdout: "piped",
  }).output();
  assert(which.code !== 0, `deno is still on ${path}: ${new TextDecoder().decode(which.stdout)}`);
  return path;
}
