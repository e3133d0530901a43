/**
 * Issue 23, item 2: tables created with `DATA DIRECTORY` / `INDEX DIRECTORY` on the donor.
 *
 * - An InnoDB table there leaves only an `.isl` pointer in its schema directory: the donor
 *   refuses the SST (exit 95) before `flush tables` and before any pre-copy, naming the table
 *   and its path; the joiner gets the refusal record and fails with the same reason; nothing
 *   else reaches the joiner and nothing is left running.
 * - MyISAM/Aria files linked elsewhere arrive whole as regular files (`--copy-links`): the SST
 *   succeeds with one WARNING naming the table and its paths.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst, type SstResult } from "../../scripts/lib/sst_driver.ts";
import {
  assertNothingLeft,
  type Fixture,
  type FixtureOptions,
  leftovers,
  withFixture,
} from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { record } from "../../scripts/lib/ledger.ts";
import { ExitCode } from "../../src/core/errors.ts";

function sst(f: Fixture): Promise<SstResult> {
  return driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
}

/** The ERROR lines of a side's log. */
function errors(stderr: string | undefined): string[] {
  return (stderr ?? "").split("\n").filter((l) => l.includes("[ERROR]"));
}

/**
 * Puts an InnoDB table `shop.remote` with its `.ibd` in `<root>/remote-disk`, as
 * `CREATE TABLE shop.remote … DATA DIRECTORY='<root>/remote-disk'` leaves it: the `.isl` in the
 * schema directory holds the path (MariaDB adds the schema's name to the directory).
 */
async function remoteInnodbTable(f: Fixture): Promise<string> {
  const ibd = `${f.root}/remote-disk/shop/remote.ibd`;
  await Deno.mkdir(`${f.root}/remote-disk/shop`, { recursive: true });
  await Deno.writeFile(ibd, new Uint8Array(65536).fill(7));
  const dd = f.donor.layout.datadir;
  await Deno.writeTextFile(`${dd}/shop/remote.isl`, ibd);
  await Deno.writeFile(`${dd}/shop/remote.frm`, new Uint8Array(900).fill(1));
  return ibd;
}

for (
  const c of [
    { name: "one locked pass", o: {} },
    { name: "precopy=on", o: { donorSstLines: ["precopy=on"] } },
  ] as { name: string; o: FixtureOptions }[]
) {
  Deno.test(`DATA DIRECTORY (${c.name}): an InnoDB table outside the datadir makes the donor refuse (exit 95) before flush tables, naming the table and its path; the joiner fails with the reason, nothing else arrives`, () =>
    withFixture(c.o, async (f) => {
      const ibd = await remoteInnodbTable(f);
      const r = await sst(f);
      const what = `donor: InnoDB table with DATA DIRECTORY (${c.name})`;
      const donorErrors = errors(r.donor?.stderr);
      const named = new RegExp(
        `DATA DIRECTORY.*shop\\.remote \\(${
          ibd.replace(/[.]/g, "\\.")
        }\\).*CREATE TABLE t_new LIKE t`,
      );
      const received = leftovers(f.joiner.layout.datadir);
      const ok = r.donor?.code === ExitCode.unsupportedPair && r.donor.lines.length === 0 &&
        donorErrors.length === 1 && named.test(donorErrors[0]) &&
        r.joiner.code === ExitCode.unsupportedPair && received.length === 0 &&
        !/hot pre-copy|rsync: /.test(r.donor.stderr);
      record({
        kind: "config-refusal",
        name: what,
        ok,
        detail: `donor exit ${r.donor?.code}, stdout ${JSON.stringify(r.donor?.lines)}, ` +
          `joiner exit ${r.joiner.code}, joiner datadir ${JSON.stringify(received)}: ` +
          donorErrors.join(" | ").slice(0, 300),
      });
      assertEquals(r.donor?.code, ExitCode.unsupportedPair, r.donor?.stderr);
      assertEquals(r.donor?.lines, [], "no flush tables: the donor's server is never locked");
      assertEquals(donorErrors.length, 1, r.donor?.stderr);
      assertMatch(donorErrors[0], named);
      assert(!/hot pre-copy/.test(r.donor?.stderr ?? ""), "a pre-copy started");
      assertEquals(r.joiner.code, ExitCode.unsupportedPair, r.joiner.stderr);
      assertMatch(
        r.joiner.stderr,
        /\[ERROR\] the donor refused this SST: InnoDB table\(s\).*shop\.remote/,
      );
      assertEquals(r.joiner.lines.length, 1, "the joiner printed only ready");
      assertEquals(received, [], "nothing arrived in the joiner's datadir");
      assertNothingLeft(f, what);
    }));
}

Deno.test("DATA DIRECTORY: an InnoDB table created outside the datadir between the plan and the lock is refused under the lock (exit 95): no continue, no done, the joiner fails with the reason", () =>
  withFixture({}, async (f) => {
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      onFlush: async () => void await remoteInnodbTable(f),
    });
    assertEquals(r.donor?.code, ExitCode.unsupportedPair, r.donor?.stderr);
    assertEquals(r.donor?.lines, ["flush tables"], "nothing after flush tables");
    assertMatch(errors(r.donor?.stderr)[0] ?? "", /DATA DIRECTORY.*shop\.remote \(/);
    assertEquals(r.joiner.code, ExitCode.unsupportedPair, r.joiner.stderr);
    assertMatch(r.joiner.stderr, /the donor refused this SST: InnoDB table\(s\).*shop\.remote/);
    assertNothingLeft(f, "donor: InnoDB table with DATA DIRECTORY created before the lock");
  }));

Deno.test("DATA DIRECTORY: a partition of an InnoDB table outside the datadir is named with its partition", () =>
  withFixture({}, async (f) => {
    const ibd = `${f.root}/remote-disk/shop/parts#P#p0.ibd`;
    await Deno.mkdir(`${f.root}/remote-disk/shop`, { recursive: true });
    await Deno.writeFile(ibd, new Uint8Array(65536));
    await Deno.writeTextFile(`${f.donor.layout.datadir}/shop/parts#P#p0.isl`, ibd + "\n");
    const r = await sst(f);
    assertEquals(r.donor?.code, ExitCode.unsupportedPair, r.donor?.stderr);
    assertMatch(
      errors(r.donor?.stderr)[0] ?? "",
      /shop\.parts partition p0 \(.*\/remote-disk\/shop\/parts#P#p0\.ibd\)/,
    );
    assertNothingLeft(f, "donor: InnoDB partition with DATA DIRECTORY");
  }));

Deno.test("DATA/INDEX DIRECTORY: MyISAM files linked outside the datadir arrive whole as regular files, with one WARNING naming the table and its paths", () =>
  withFixture({}, async (f) => {
    const dd = f.donor.layout.datadir;
    const before = await treeDigest(dd, isTransferredDatadirFile);
    const outside = `${f.root}/myisam-disk`;
    await Deno.mkdir(outside);
    for (const ext of ["MYD", "MYI"]) {
      await Deno.writeFile(`${outside}/hits.${ext}`, new Uint8Array(4096).fill(3));
      await Deno.symlink(`${outside}/hits.${ext}`, `${dd}/shop/hits.${ext}`);
    }
    const r = await sst(f);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    const warnings = (r.donor?.stderr ?? "").split("\n").filter((l) => l.includes("DIRECTORY"));
    assertEquals(warnings.length, 1, r.donor?.stderr);
    assertMatch(
      warnings[0],
      new RegExp(
        `\\[WARNING\\] MyISAM/Aria .*shop\\.hits \\(${outside}/hits\\.MYD, ${outside}/hits\\.MYI\\)`,
      ),
    );
    const jd = f.joiner.layout.datadir;
    for (const ext of ["MYD", "MYI"]) {
      assert(Deno.lstatSync(`${jd}/shop/hits.${ext}`).isFile, `hits.${ext} arrived as a link`);
      assertEquals(Deno.readFileSync(`${jd}/shop/hits.${ext}`), new Uint8Array(4096).fill(3));
    }
    const after = await treeDigest(jd, isTransferredDatadirFile);
    assertEquals(diffDigests(before, after).sort(), [
      "unexpected shop/hits.MYD",
      "unexpected shop/hits.MYI",
    ]);
    assertNothingLeft(f, "donor: MyISAM files with DATA/INDEX DIRECTORY");
  }));
