/**
 * A top-level directory of the donor's datadir whose name is not UTF-8 (`sauvegarde-\351t\351`,
 * Latin-1) over loopback (issue 23 item 5): `Deno.readDir` shows such a name with U+FFFD, which
 * reaches nothing; the SST must still copy it, byte for byte, in the locked pass and after a hot
 * pre-copy, as stock rsync does.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { driveSst, type SstResult } from "../../scripts/lib/sst_driver.ts";
import { type Fixture, setSst, withFixture } from "../../scripts/lib/fixture.ts";
import { rawDirNames, withRawDir } from "../../src/proc/raw_dir.ts";

/** `sauvegarde-été` in Latin-1: not UTF-8. */
const NAME = new Uint8Array([
  ...new TextEncoder().encode("sauvegarde-"),
  0xe9,
  ...new TextEncoder().encode("t"),
  0xe9,
]);
const SHELL_NAME = String.raw`sauvegarde-\351t\351`;

/** Writes `text` to `<dir>/<NAME>/<file>` (a shell: Deno cannot name the directory). */
async function writeInto(dir: string, file: string, text: string): Promise<void> {
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      `d=$(printf '${SHELL_NAME}'); mkdir -p "$d" && printf '%s' "$1" > "$d/${file}"`,
      "sh",
      text,
    ],
    cwd: dir,
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** The files of `<dir>/<NAME>` and their text, or null when the directory is missing. */
async function readInto(dir: string): Promise<Record<string, string> | null> {
  return await withRawDir(dir, NAME, async (path) => {
    const out: Record<string, string> = {};
    for await (const e of Deno.readDir(path)) {
      out[e.name] = await Deno.readTextFile(`${path}/${e.name}`);
    }
    return out;
  });
}

function hasName(dir: string): boolean {
  return (rawDirNames(dir) ?? []).some((n) =>
    n.length === NAME.length && n.every((b, i) => b === NAME[i])
  );
}

async function sst(f: Fixture): Promise<SstResult> {
  const r = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
  assertEquals(r.donor?.code, 0, r.donor?.stderr);
  assertEquals(r.joiner.code, 0, r.joiner.stderr);
  return r;
}

Deno.test("byte names: a top-level directory whose name is not UTF-8 arrives with the same bytes and content, in a locked pass and after a hot pre-copy", async () => {
  await withFixture({}, async (f) => {
    const dd = f.donor.layout.datadir;
    const jd = f.joiner.layout.datadir;
    await writeInto(dd, "dump.sql", "first\n");
    await sst(f);
    assert(hasName(jd), "the joiner has the directory under the same bytes");
    assertEquals(await readInto(jd), { "dump.sql": "first\n" });

    // After a hot pre-copy, with a change and a stale file on the joiner.
    await setSst(f.donor, { precopy: "on" });
    await writeInto(dd, "dump.sql", "second\n");
    await writeInto(dd, "more.sql", "more\n");
    await writeInto(jd, "stale.sql", "stale\n");
    const second = await sst(f);
    assert(/hot pre-copy/.test(second.donor!.stderr), second.donor!.stderr);
    assertEquals(await readInto(jd), { "dump.sql": "second\n", "more.sql": "more\n" });
  });
});
