/**
 * Unit tests for names that are not UTF-8 (src/proc/raw_dir.ts, the `otherTrees` selection of
 * src/transfer/selection.ts, `otherDirsJob` of src/transfer/passes.ts): such a top-level
 * directory is listed by its bytes, sent by a job whose rsync filters find it, and counted by
 * the walker through that same selection; no exact rule is ever made from its lossy name.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { displayName, rawDirNames, utf8Name } from "../../src/proc/raw_dir.ts";
import { selectionOptions, TreeWalk } from "../../src/transfer/selection.ts";
import { listSchemaDirs, otherDirsJob, undecodableDirs } from "../../src/transfer/passes.ts";
import { exactRule } from "../../src/transfer/precopy_record.ts";
import type { ServerLayout } from "../../src/config/settings.ts";

const SHELL_NAME = String.raw`sauvegarde-\351t\351`;

/** A datadir with schema `shop` (3 bytes), the Latin-1 directory (5 + 7 bytes) and a file. */
async function datadir(): Promise<{ root: string; layout: ServerLayout }> {
  const root = await Deno.makeTempDir();
  const script = `d=$(printf '${SHELL_NAME}'); mkdir "$d" "$d/in" shop && printf 12345 > "$d/a" ` +
    `&& printf 1234567 > "$d/in/b" && printf abc > shop/t.ibd && printf x > "$(printf 'f\\351')"`;
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd: root }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const layout = {
    datadir: root,
    innodbDataHomeDir: root,
    innodbLogGroupHomeDir: root,
    innodbUndoDirectory: root,
    ariaLogDirPath: root,
  };
  return { root, layout };
}

Deno.test("byte names: rawDirNames keeps a Latin-1 name's bytes; displayName shows them as rsync does", async () => {
  const { root } = await datadir();
  try {
    const names = (rawDirNames(root) ?? []).map(displayName).sort();
    assertEquals(names, ["f\\351", "sauvegarde-\\351t\\351", "shop"]);
    assertEquals(utf8Name(new Uint8Array([0x61, 0xe9])), null);
    assertEquals(utf8Name(new TextEncoder().encode("été")), "été");
    assertEquals(rawDirNames(`${root}/missing`), null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("byte names: the schema listing leaves the Latin-1 directory to otherDirsJob, whose filters find every directory but the listed ones and whose bytes the walker counts", async () => {
  const { root, layout } = await datadir();
  try {
    const walk = new TreeWalk();
    const dirs = await listSchemaDirs(layout, walk);
    assertEquals(dirs, [{ name: "shop", bytes: 3 }]);
    const undecodable = await undecodableDirs(layout);
    assertEquals(undecodable, ["sauvegarde-\\351t\\351"]);
    assertEquals(otherDirsJob(layout, dirs, []), null, "no job without such a directory");
    const job = otherDirsJob(layout, dirs, undecodable)!;
    assertEquals(job.sources, [`${root}/`]);
    assert(job.options.includes("--exclude=/shop/***"), job.options.join(" "));
    assert(job.options.includes("--exclude=/lost+found/***"), job.options.join(" "));
    assertEquals(job.options.slice(-4), [
      "--filter=P /*",
      "--include=/*/",
      "--include=/*/**",
      "--exclude=/*",
    ]);
    assertEquals(job.options, [
      ...selectionOptions(job.selection).slice(0, 1),
      "--delete",
      ...selectionOptions(job.selection).slice(1),
    ]);
    assertEquals(await walk.bytes(job.selection, job.sources), 12);
    const files = await walk.files(job.selection, job.sources);
    assertEquals(files.map((f) => f.rel).sort(), [
      "sauvegarde-\uFFFDt\uFFFD/a",
      "sauvegarde-\uFFFDt\uFFFD/in/b",
    ]);
    for (const f of files) assertEquals(exactRule(f.rel), null, `no rule for ${f.rel}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("byte names: otherTrees excludes names literally (wildcards escaped, in a pattern rsync reads escapes in)", () => {
  assertEquals(
    selectionOptions({ kind: "otherTrees", excludes: ["a*b", "c[1]", "d\\e"] }).slice(2, 5),
    ["--exclude=/a\\*b/***", "--exclude=/c\\[1\\]/***", "--exclude=/d\\\\e/***"],
  );
});
