/**
 * Donor and joiner with different file layouts, driven over loopback as mariadbd drives them
 * (real socat, rsync, openssl): every engine file set lands where the JOINER's configuration
 * puts it, the donor's special directories never arrive as schemas, the joiner's special
 * directories inside its datadir are neither deleted nor written by the datadir passes, and
 * stale files of a set are removed from the joiner's directory of that set.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { driveSst, TEST_STATE } from "../../scripts/lib/sst_driver.ts";
import { makeFixture } from "../../scripts/lib/fixture.ts";
import { diffDigests, treeDigest } from "../../scripts/lib/sample_datadir.ts";
import type { ServerLayout } from "../../src/config/settings.ts";
import { engineFileSets, specialTopLevelDirs } from "../../src/transfer/layout_files.ts";

type Placement = false | true | "inside";

const NAMES: Record<string, Placement> = { default: false, outside: true, inside: "inside" };

function matches(patterns: string[], name: string): boolean {
  return patterns.some((p) =>
    new RegExp(`^${p.replace(/\./g, "\\.").replace(/\*/g, ".*")}$`).test(name)
  );
}

/** Regular files directly in `dir`. */
function filesIn(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** The files of each engine set in its directory: `"<set label>/<file>" → digest`. */
async function engineDigest(layout: ServerLayout): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const set of engineFileSets(layout)) {
    const d = await treeDigest(set.dir, (rel) => !rel.includes("/") && matches(set.patterns, rel));
    for (const [k, v] of d) out.set(`${set.label}/${k}`, v);
  }
  return out;
}

/** Files inside the schema directories (not the special ones of `layout`). */
async function schemaDigest(layout: ServerLayout): Promise<Map<string, string>> {
  const special = new Set(specialTopLevelDirs(layout));
  return await treeDigest(layout.datadir, (rel) => {
    const top = rel.split("/")[0];
    return rel.includes("/") && !special.has(top);
  });
}

/** Engine files (top-level, any set's name) in a directory that the joiner does not use for that set. */
function misplaced(layout: ServerLayout): string[] {
  const sets = engineFileSets(layout);
  const dirs = new Set([layout.datadir, ...sets.map((s) => s.dir)]);
  const out: string[] = [];
  for (const dir of dirs) {
    for (const f of filesIn(dir)) {
      const set = sets.find((s) => matches(s.patterns, f));
      if (set && set.dir !== dir) out.push(`${dir}/${f} (${set.option} is ${set.dir})`);
    }
  }
  return out;
}

const CASES: [donor: string, joiner: string][] = [
  ["default", "outside"],
  ["default", "inside"],
  ["outside", "default"],
  ["inside", "default"],
  ["outside", "inside"],
];

for (const [donor, joiner] of CASES) {
  Deno.test(`mixed layouts: ${donor} donor → ${joiner} joiner: each engine file set lands in the joiner's own directory`, async () => {
    const f = await makeFixture({
      binlog: true,
      separateDirs: NAMES[donor],
      joinerSeparateDirs: NAMES[joiner],
    });
    try {
      const d = f.donor.layout, j = f.joiner.layout;
      // The joiner's undo directory already holds a stale tablespace and a foreign file.
      await Deno.mkdir(j.innodbUndoDirectory, { recursive: true });
      await Deno.writeTextFile(`${j.innodbUndoDirectory}/undo004`, "stale");
      await Deno.writeTextFile(`${j.innodbUndoDirectory}/keep.me`, "joiner's own");
      const r = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
      assertEquals(r.joiner.code, 0, r.joiner.stderr);
      assertEquals(r.donor?.code, 0, r.donor?.stderr);
      assertEquals(r.joiner.lines.slice(1), [TEST_STATE]);

      assertEquals(diffDigests(await engineDigest(d), await engineDigest(j)), [], "engine files");
      assertEquals(misplaced(j), [], "no engine file outside the joiner's directory of its set");
      assertEquals(diffDigests(await schemaDigest(d), await schemaDigest(j)), [], "schemas");
      for (const name of specialTopLevelDirs(d)) {
        if (specialTopLevelDirs(j).includes(name)) continue;
        assert(
          (await Deno.stat(`${j.datadir}/${name}`).catch(() => null)) === null,
          `the donor's special directory ${name} must not arrive as a schema`,
        );
      }
      assert(!filesIn(j.innodbUndoDirectory).includes("undo004"), "stale undo004 deleted");
      assertEquals(
        await Deno.readTextFile(`${j.innodbUndoDirectory}/keep.me`),
        "joiner's own",
        "a non-engine file in the joiner's undo directory is kept",
      );
      const binDir = j.binlogBase!.slice(0, j.binlogBase!.lastIndexOf("/"));
      assert(filesIn(binDir).includes("mysql-bin.000003"), `last binlog in ${binDir}`);
    } finally {
      await f.cleanup();
    }
  });
}

Deno.test("mixed layouts: a donor schema named like the joiner's undo directory inside its datadir fails the joiner with exit 22 naming both", async () => {
  const f = await makeFixture({ joinerSeparateDirs: "inside" });
  try {
    // The donor has a database whose directory is "undo", where the joiner keeps its undo
    // tablespaces: the joiner's daemon refuses the push and the joiner must not accept a
    // data set without that schema.
    await Deno.mkdir(`${f.donor.layout.datadir}/undo`);
    await Deno.writeTextFile(`${f.donor.layout.datadir}/undo/t.frm`, "x");
    const r = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
    assertEquals(r.joiner.code, 22, r.joiner.stderr);
    assertEquals(r.joiner.lines.length, 1, "only the ready line, no final state");
    assert(
      /\[ERROR\] the donor has a schema directory 'undo' but this node keeps its innodb_undo_directory directory \S+\/data\/undo at/
        .test(r.joiner.stderr),
      r.joiner.stderr,
    );
    assert(
      !(await Deno.stat(`${f.joiner.layout.datadir}/undo/t.frm`).catch(() => null)),
      "nothing written into the joiner's undo directory",
    );
  } finally {
    await f.cleanup();
  }
});
