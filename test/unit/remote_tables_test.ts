/**
 * Unit tests for finding tables whose files live outside the datadir
 * (src/transfer/remote_tables.ts), on real files in a temporary directory.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import {
  findRemoteTableFiles,
  linkedFilesMessage,
  remoteTablespaceMessage,
} from "../../src/transfer/remote_tables.ts";

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "remote-tables-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("remote tables: .isl files (partitions too) and linked MyISAM/Aria files are found; linked .ibd, .frm and ordinary files are not", () =>
  withDir(async (dd) => {
    await Deno.mkdir(`${dd}/s`);
    await Deno.mkdir(`${dd}/far`);
    await Deno.writeTextFile(`${dd}/s/a.isl`, "/disk2/s/a.ibd\n");
    await Deno.writeTextFile(`${dd}/s/p#P#p0#SP#p0sp0.isl`, "/disk2/s/p#P#p0#SP#p0sp0.ibd");
    await Deno.writeTextFile(`${dd}/far/m.MYD`, "");
    await Deno.symlink("../far/m.MYD", `${dd}/s/m.MYD`); // relative, as a DBA may make it
    await Deno.symlink(`${dd}/far/m.MYD`, `${dd}/s/x.MAI`);
    await Deno.symlink(`${dd}/far/m.MYD`, `${dd}/s/linked.ibd`);
    await Deno.symlink(`${dd}/far/m.MYD`, `${dd}/s/linked.frm`);
    await Deno.writeTextFile(`${dd}/s/plain.MYD`, "");
    const found = await findRemoteTableFiles(dd, ["s", "gone"]);
    assertEquals(found.map((f) => [f.engine, f.table, f.partition, f.target]), [
      ["InnoDB", "a", null, "/disk2/s/a.ibd"],
      ["MyISAM", "m", null, `${dd}/s/../far/m.MYD`],
      ["InnoDB", "p", "p0#SP#p0sp0", "/disk2/s/p#P#p0#SP#p0sp0.ibd"],
      ["Aria", "x", null, `${dd}/far/m.MYD`],
    ], "found");
    const refusal = remoteTablespaceMessage(found) ?? "";
    assert(refusal.includes("s.a (/disk2/s/a.ibd), s.p partition p0#SP#p0sp0 ("), refusal);
    assert(!refusal.includes("s.m"), refusal);
    const warning = linkedFilesMessage(found) ?? "";
    assert(warning.includes(`s.m (${dd}/s/../far/m.MYD), s.x (${dd}/far/m.MYD)`), warning);
  }));

Deno.test("remote tables: none in an ordinary schema directory, and no message then", () =>
  withDir(async (dd) => {
    await Deno.mkdir(`${dd}/s`);
    for (const n of ["t.ibd", "t.frm", "m.MYD", "m.MYI", "db.opt"]) {
      await Deno.writeTextFile(`${dd}/s/${n}`, "x");
    }
    const found = await findRemoteTableFiles(dd, ["s"]);
    assertEquals(found, [], "found");
    assertEquals(remoteTablespaceMessage(found), null, "refusal");
    assertEquals(linkedFilesMessage(found), null, "warning");
  }));

Deno.test("remote tables: the list names five tables and counts the rest; control characters from an .isl are flattened", () =>
  withDir(async (dd) => {
    await Deno.mkdir(`${dd}/s`);
    for (let i = 0; i < 7; i++) await Deno.writeTextFile(`${dd}/s/t${i}.isl`, `/d/s/t${i}.ibd`);
    await Deno.writeTextFile(`${dd}/s/t0.isl`, "/d/s/\x1b[31mt0.ibd\r");
    const message = remoteTablespaceMessage(await findRemoteTableFiles(dd, ["s"])) ?? "";
    assert(message.includes("s.t0 (/d/s/?[31mt0.ibd)"), message);
    assert(message.includes("s.t4 (/d/s/t4.ibd) (and 2 more)"), message);
    // deno-lint-ignore no-control-regex -- no control character may reach the log
    assert(!/[\x00-\x1f]/.test(message), message);
  }));
