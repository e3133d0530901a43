/**
 * The "identical copy" check of the loopback tests (scripts/lib/sample_datadir.ts) must see
 * every file an SST delivers, top-level engine files included, and skip exactly the files the
 * joiner legitimately does not get.
 */
import { assert, assertEquals } from "../support/assert.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  makeSampleDatadir,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";

async function twoSamples(
  body: (donor: string, joiner: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "sample-datadir-test-" });
  try {
    const d = await makeSampleDatadir({ root, name: "donor" });
    const j = await makeSampleDatadir({ root, name: "joiner" });
    await body(d.datadir, j.datadir);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function diff(donor: string, joiner: string): Promise<string[]> {
  return diffDigests(
    await treeDigest(donor, isTransferredDatadirFile),
    await treeDigest(joiner, isTransferredDatadirFile),
  );
}

Deno.test("sample datadir: the compared set holds the top-level engine files of the default layout", () =>
  twoSamples(async (donor) => {
    const names = [...(await treeDigest(donor, isTransferredDatadirFile)).keys()];
    for (
      const f of [
        "ibdata1",
        "ib_logfile0",
        "undo001",
        "undo002",
        "undo003",
        "aria_log_control",
        "aria_log.00000001",
        "shop/orders.ibd",
        "mysql/user.MAI",
      ]
    ) assert(names.includes(f), `${f} is compared (compared: ${names.sort().join(", ")})`);
    for (const f of ["grastate.dat", "galera.cache", "ib_buffer_pool", "node.err", "node.pid"]) {
      assert(!names.includes(f), `${f} is not delivered and must not be compared`);
    }
  }));

Deno.test("sample datadir: two identical samples compare equal", () =>
  twoSamples(async (donor, joiner) => assertEquals(await diff(donor, joiner), [])));

for (const f of ["ibdata1", "ib_logfile0", "undo002", "aria_log_control", "aria_log.00000001"]) {
  Deno.test(`sample datadir: a joiner whose top-level ${f} differs is not an identical copy`, () =>
    twoSamples(async (donor, joiner) => {
      await Deno.writeFile(`${joiner}/${f}`, new Uint8Array([1, 2, 3]));
      assertEquals(await diff(donor, joiner), [`differs ${f}`]);
      await Deno.remove(`${joiner}/${f}`);
      assertEquals(await diff(donor, joiner), [`missing ${f}`]);
    }));
}

Deno.test("sample datadir: an unknown top-level file on the joiner is a difference", () =>
  twoSamples(async (donor, joiner) => {
    await Deno.writeTextFile(`${joiner}/stray.bin`, "x");
    assertEquals(await diff(donor, joiner), ["unexpected stray.bin"]);
  }));

Deno.test("sample datadir: files the joiner does not get (named explicitly) may differ", () =>
  twoSamples(async (donor, joiner) => {
    for (
      const f of [
        "grastate.dat",
        "gvwstate.dat",
        "galera.cache",
        "ib_buffer_pool",
        "node.err",
        "node.pid",
        "wsrep_sst.pid",
        "sst_in_progress",
        "sst_complete",
        "mysql-bin.000001",
        "mysql-bin.index",
      ]
    ) await Deno.writeTextFile(`${joiner}/${f}`, "joiner's own");
    assertEquals(await diff(donor, joiner), []);
  }));
