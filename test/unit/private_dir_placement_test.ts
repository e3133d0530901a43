/**
 * Where the private directory goes: never inside a tree the SST copies or cleans (the datadir,
 * or what a link in it points to), compared through links; then `$TMPDIR` or `/tmp`.
 */
import { assertEquals, assertRejects } from "../support/assert.ts";
import { privateDirParent } from "../../src/sst/private_dir.ts";
import { ConfigError } from "../../src/core/errors.ts";

async function withTree(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "private-dir-place." }));
  const saved = Deno.env.get("TMPDIR");
  try {
    for (const d of ["data/tmp", "data/db1", "disk2/db2/tmp", "outside"]) {
      await Deno.mkdir(`${root}/${d}`, { recursive: true });
    }
    await Deno.symlink(`${root}/disk2/db2`, `${root}/data/db2`);
    await Deno.symlink(`${root}/data/tmp`, `${root}/tmplink`);
    Deno.env.set("TMPDIR", `${root}/outside`);
    await fn(root);
  } finally {
    if (saved === undefined) Deno.env.delete("TMPDIR");
    else Deno.env.set("TMPDIR", saved);
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("private dir placement: a tmpdir inside the datadir, a linked schema's target or through a link goes to $TMPDIR; outside stays", async () => {
  await withTree(async (root) => {
    const dd = `${root}/data`;
    const cases: [string, string][] = [
      [`${root}/outside`, `${root}/outside`],
      ["/tmp", "/tmp"],
      [`${dd}/tmp`, `${root}/outside`],
      [dd, `${root}/outside`],
      [`${dd}/db1`, `${root}/outside`],
      [`${root}/disk2/db2/tmp`, `${root}/outside`],
      [`${root}/tmplink`, `${root}/outside`],
    ];
    for (const [tmpdir, want] of cases) {
      assertEquals(await privateDirParent(tmpdir, dd), want, tmpdir);
    }
  });
});

Deno.test("private dir placement: $TMPDIR inside the datadir too falls back to /tmp; nothing outside is a ConfigError", async () => {
  await withTree(async (root) => {
    const dd = `${root}/data`;
    Deno.env.set("TMPDIR", `${dd}/tmp`);
    assertEquals(await privateDirParent(`${dd}/tmp`, dd), "/tmp");
    Deno.env.set("TMPDIR", "/tmp/y");
    await assertRejects(
      () => privateDirParent("/tmp/x", "/tmp"),
      ConfigError,
      /tmpdir \/tmp\/x is inside the datadir \/tmp.*set tmpdir to a directory outside/,
    );
  });
});
