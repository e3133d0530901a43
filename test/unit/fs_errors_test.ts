import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { fsFailure } from "../../src/core/fs_errors.ts";
import { SstError } from "../../src/core/errors.ts";

/** The error Deno throws for `op`, which must fail. */
async function errorOf(op: () => Promise<unknown>): Promise<unknown> {
  try {
    await op();
  } catch (e) {
    return e;
  }
  throw new Error("did not fail");
}

Deno.test("fsFailure: a missing directory exits 2 naming the first missing component and the setting", async () => {
  const root = await Deno.makeTempDir();
  try {
    const path = `${root}/gone/deeper`;
    const e = await errorOf(() => Deno.writeTextFile(`${path}/f`, "x"));
    const f = fsFailure(e, { path, doing: "create f in", setting: "[mysqld] datadir" });
    assert(f instanceof SstError);
    assertEquals(f.exitCode, 2);
    assertMatch(
      f.message,
      new RegExp(
        `^cannot create f in ${path}: ${root}/gone does not exist; create ${root}/gone, ` +
          "writable by uid \\d+.*, or point \\[mysqld\\] datadir elsewhere$",
      ),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("fsFailure: a loop of links exits 40, a file in the path 20", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.symlink(`${root}/b`, `${root}/a`);
    await Deno.symlink(`${root}/a`, `${root}/b`);
    const loop = fsFailure(await errorOf(() => Deno.mkdir(`${root}/a/x`)), {
      path: `${root}/a/x`,
      doing: "create",
    }) as SstError;
    assertEquals(loop.exitCode, 40);
    assertMatch(loop.message, /loop of symbolic links; fix the links$/);
    await Deno.writeTextFile(`${root}/file`, "");
    const notDir = fsFailure(await errorOf(() => Deno.mkdir(`${root}/file/x`)), {
      path: `${root}/file/x`,
      doing: "create",
    }) as SstError;
    assertEquals(notDir.exitCode, 20);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("fsFailure: errno codes without a Deno class (EROFS, ENOSPC) map by code; anything else passes through", () => {
  const coded = (code: string) => Object.assign(new Error(code), { code });
  assertEquals(
    (fsFailure(coded("EROFS"), { path: "/x", doing: "write" }) as SstError).exitCode,
    30,
  );
  assertEquals(
    (fsFailure(coded("ENOSPC"), { path: "/x", doing: "write" }) as SstError).exitCode,
    28,
  );
  const bug = new TypeError("x is undefined");
  assert(fsFailure(bug, { path: "/x", doing: "write" }) === bug);
  const refused = coded("ECONNREFUSED");
  assert(fsFailure(refused, { path: "/x", doing: "write" }) === refused);
});
