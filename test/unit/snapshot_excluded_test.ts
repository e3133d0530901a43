/**
 * A snapshot directory of the donor (`#sql-wsrep_sst_snapshot.*`, transfer/snapshot_dir.ts) is
 * never read by a pass nor counted: not a schema directory, not in the walker's files (which feed
 * the byte counts, the pre-copy record and the joiner's held files), and real rsync, given a
 * job's options or the joiner daemon's rule file, copies none at any depth.
 */
import { assertEquals } from "../support/assert.ts";
import type { ServerLayout } from "../../src/config/settings.ts";
import { listSchemaDirs, structureJob } from "../../src/transfer/passes.ts";
import { datadirDaemonExcludes } from "../../src/transfer/layout_files.ts";
import { heldFiles } from "../../src/transfer/held_files.ts";
import { selectionOptions, SNAPSHOT_PREFIX, TreeWalk } from "../../src/transfer/selection.ts";

async function datadir(): Promise<string> {
  const dd = await Deno.makeTempDir({ prefix: "snapshot-excluded-" });
  for (
    const rel of [
      "s1/t.ibd",
      `${SNAPSHOT_PREFIX}1-2/datadir/s1/t.ibd`,
      `${SNAPSHOT_PREFIX}1-2/datadir/ibdata1`,
      `s1/${SNAPSHOT_PREFIX}3-4/x`,
      "ibdata1",
    ]
  ) {
    if (rel.includes("/")) {
      await Deno.mkdir(`${dd}/${rel.slice(0, rel.lastIndexOf("/"))}`, { recursive: true });
    }
    await Deno.writeFile(`${dd}/${rel}`, new Uint8Array(100));
  }
  return dd;
}

function layoutOf(dd: string): ServerLayout {
  return {
    datadir: dd,
    innodbDataHomeDir: dd,
    innodbLogGroupHomeDir: dd,
    innodbUndoDirectory: dd,
    ariaLogDirPath: dd,
  };
}

async function rsync(args: string[]): Promise<void> {
  const r = await new Deno.Command("rsync", { args, stderr: "piped" }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
}

async function tree(dir: string): Promise<string[]> {
  return (await new TreeWalk().files({ kind: "trees" }, [dir])).map((f) => f.rel).sort();
}

Deno.test("snapshot directories: not a schema directory, not walked, not held, not copied by a job's rsync options nor into the joiner's daemon", async () => {
  const dd = await datadir();
  const out = await Deno.makeTempDir({ prefix: "snapshot-excluded-out-" });
  try {
    const layout = layoutOf(dd);
    const walk = new TreeWalk();
    assertEquals((await listSchemaDirs(layout, walk)).map((d) => d.name), ["s1"]);
    assertEquals(await tree(`${dd}/s1`), ["s1/t.ibd"]);
    assertEquals(await walk.treeBytes(dd), 200);
    assertEquals((await heldFiles(layout)).files.map((f) => f.rel).sort(), ["ibdata1", "s1/t.ibd"]);

    // A schema job and the structure job, as rsync runs them.
    await rsync(["-a", ...selectionOptions({ kind: "trees" }), `${dd}/s1`, `${out}/`]);
    const structure = structureJob(layout);
    await rsync(["-a", ...structure.options.filter((o) => o !== "--delete"), `${dd}/`, `${out}/`]);
    assertEquals(
      [...Deno.readDirSync(out)].map((e) => e.name).sort(),
      ["s1"],
      "only the schema directory",
    );
    assertEquals(await tree(`${out}/s1`), ["s1/t.ibd"]);

    // The joiner's daemon-side rules (an `exclude from` file) refuse them at any depth.
    const rules = `${out}/rules`;
    await Deno.writeTextFile(rules, datadirDaemonExcludes(layout));
    await Deno.remove(`${out}/s1`, { recursive: true });
    await rsync(["-a", `--exclude-from=${rules}`, `${dd}/`, `${out}/copy/`]);
    assertEquals(await tree(`${out}/copy`), ["copy/ibdata1", "copy/s1/t.ibd"]);
  } finally {
    await Deno.remove(dd, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});
