/**
 * The donor's settings as `mariadbd` would start it for `datadir`, with `cnf` as its
 * `--defaults-file` (2 CPUs): for tests that plan or clone a copy without running an SST.
 *
 * @module
 */
import { OptionLookup } from "../../src/config/option_lookup.ts";
import { type Settings, settingsFrom } from "../../src/config/settings.ts";
import { parseSstArgs } from "../../src/core/args.ts";

/** The donor's settings for `datadir` and the option file `cnf`. */
export async function donorSettings(datadir: string, cnf: string): Promise<Settings> {
  const args = parseSstArgs([
    "--role",
    "donor",
    "--address",
    "127.0.0.1:4444/rsync_tunnel_sst",
    "--datadir",
    datadir,
    "--defaults-file",
    cnf,
  ]); // deno-fmt-ignore
  return settingsFrom(args, await OptionLookup.load({ defaultsFile: cnf }), 2);
}

/** A writer of private files (0600) into `dir`, as the SST's private directory is. */
export function privateWriter(
  dir: string,
): { write(name: string, content: string): Promise<string> } {
  return {
    async write(name: string, content: string) {
      await Deno.writeTextFile(`${dir}/${name}`, content, { mode: 0o600 });
      return `${dir}/${name}`;
    },
  };
}
