/**
 * The InnoDB system tablespace under other names than `ibdata*`, driven over loopback as
 * mariadbd drives the program (real socat, rsync, openssl): the donor sends exactly the files
 * its `innodb_data_file_path` names, the joiner receives them where its own configuration puts
 * them and cleans an earlier `ibdata*` set there, and a joiner whose configuration names other
 * files fails closed instead of starting with a system tablespace that is not the donor's.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { driveSst, TEST_STATE } from "../../scripts/lib/sst_driver.ts";
import { type FixtureNode, leftovers, withFixture } from "../../scripts/lib/fixture.ts";
import { check } from "../../scripts/lib/ledger.ts";

/** Adds a `[mysqld]` group with `lines` at the end of a node's option file. */
async function addMysqld(node: FixtureNode, lines: string[]): Promise<void> {
  await Deno.writeTextFile(node.defaultsFile, ["[mysqld]", ...lines, ""].join("\n"), {
    append: true,
  });
}

/** SHA-256 of a file in hex, or "missing" (never the bytes: a failing diff of them is huge). */
async function digest(path: string): Promise<string> {
  const data = await Deno.readFile(path).catch(() => null);
  if (data === null) return "missing";
  const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(sum, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("system tablespace: ibsys1 arrives in the joiner's own data home, the donor's stale ibdata1 does not, the joiner's old ibdata* set is removed", async () => {
  await withFixture({ joinerSeparateDirs: true }, async (f) => {
    const d = f.donor.layout, j = f.joiner.layout;
    // The donor's system tablespace is ibsys1; an ibdata1 left from an earlier set stays here.
    await Deno.rename(`${d.innodbDataHomeDir}/ibdata1`, `${d.innodbDataHomeDir}/ibsys1`);
    await Deno.writeTextFile(`${d.innodbDataHomeDir}/ibdata1`, "donor's stale ibdata1");
    // The joiner still holds a system tablespace of an earlier set, and a file of its own.
    await Deno.mkdir(j.innodbDataHomeDir, { recursive: true });
    await Deno.writeTextFile(`${j.innodbDataHomeDir}/ibdata1`, "joiner's old ibdata1");
    await Deno.writeTextFile(`${j.innodbDataHomeDir}/ibdata2`, "joiner's old ibdata2");
    await Deno.writeTextFile(`${j.innodbDataHomeDir}/keep.me`, "joiner's own");
    for (const n of [f.donor, f.joiner]) {
      await addMysqld(n, ["innodb_data_file_path=ibsys1:12M:autoextend"]);
    }
    const r = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertEquals(r.joiner.lines.slice(1), [TEST_STATE]);
    assertEquals(
      await digest(`${j.innodbDataHomeDir}/ibsys1`),
      await digest(`${d.innodbDataHomeDir}/ibsys1`),
      "the donor's ibsys1 in the joiner's innodb_data_home_dir",
    );
    assertEquals(
      leftovers(j.innodbDataHomeDir).sort(),
      ["ibsys1", "keep.me"],
      "the old ibdata* set removed, the donor's stale ibdata1 not sent, keep.me kept",
    );
  });
});

Deno.test("system tablespace: absolute paths with an empty innodb_data_home_dir, two files, land where the joiner's paths say", async () => {
  await withFixture({}, async (f) => {
    const d = f.donor.layout;
    const donorSys = `${f.root}/donor-sys`, joinerSys = `${f.root}/joiner-sys`;
    await Deno.mkdir(donorSys);
    await Deno.rename(`${d.innodbDataHomeDir}/ibdata1`, `${donorSys}/sys_a`);
    await Deno.writeFile(`${donorSys}/sys_b`, new Uint8Array(300_000).fill(7));
    const spec = (dir: string) =>
      `innodb_data_file_path=${dir}/sys_a:1M;${dir}/sys_b:1M:autoextend`;
    await addMysqld(f.donor, ["innodb_data_home_dir=", spec(donorSys)]);
    await addMysqld(f.joiner, ["innodb_data_home_dir=", spec(joinerSys)]);
    const r = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    for (const n of ["sys_a", "sys_b"]) {
      assertEquals(await digest(`${joinerSys}/${n}`), await digest(`${donorSys}/${n}`), n);
    }
    assert(!leftovers(f.joiner.layout.datadir).includes("ibdata1"), "no ibdata1 invented");
  });
});

Deno.test("system tablespace: a joiner whose innodb_data_file_path names other files fails closed (exit 22) naming both values and keeps no final state", async () => {
  await withFixture({}, async (f) => {
    const d = f.donor.layout, j = f.joiner.layout;
    await Deno.rename(`${d.innodbDataHomeDir}/ibdata1`, `${d.innodbDataHomeDir}/ibsys1`);
    await addMysqld(f.donor, ["innodb_data_file_path=ibsys1:12M:autoextend"]);
    // The joiner keeps the default ibdata1 and still has its own old one.
    await Deno.writeTextFile(`${j.innodbDataHomeDir}/ibdata1`, "joiner's old ibdata1");
    const r = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
    const problems: string[] = [];
    if (r.joiner.code !== 22) problems.push(`joiner exit ${r.joiner.code}, not 22`);
    if (r.joiner.lines.length !== 1) problems.push(`joiner printed ${r.joiner.lines.join(" | ")}`);
    const named =
      /innodb_data_file_path=ibsys1:12M:autoextend .*this node's innodb_data_file_path=ibdata1:12M:autoextend \(default/;
    if (!named.test(r.joiner.stderr)) problems.push("the message does not name both values");
    check("fault", "system tablespace names differ between donor and joiner", problems);
  });
});
