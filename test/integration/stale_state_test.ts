/**
 * The joiner's own top-level server state after an SST over loopback (issue 23 item 3): after a
 * full SST the files that describe its old data set (`ddl_recovery.log`, `tc.log`, replica
 * coordinates and relay logs, old-format redo files, the upgrade marker) are gone, and the
 * donor's are not copied either; the node's own files (Galera's state and cache, its logs) are
 * untouched. An IST keeps everything: the node keeps its data, so its logs still describe it.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst, type SstResult } from "../../scripts/lib/sst_driver.ts";
import { type Fixture, withFixture } from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";

/** Server state of the joiner's old data set; the redo dir's ib_logfile1 included. */
const STALE = [
  "ddl_recovery.log",
  "ddl_recovery-backup.log",
  "tc.log",
  "master.info",
  "multi-master.info",
  "relay-log.info",
  "joiner-relay-bin.000001",
  "joiner-relay-bin.index",
  "mysql_upgrade_info",
];

/** The node's own files beside them (the fixture adds grastate.dat, galera.cache, …). */
const OWN = ["joiner.log", "joiner-slow.log", "gvwstate.dat", "galera.cache", "grastate.dat"];

async function plant(f: Fixture): Promise<void> {
  const dd = f.joiner.layout.datadir;
  for (const n of [...STALE, ...OWN]) await Deno.writeTextFile(`${dd}/${n}`, `joiner's ${n}\n`);
  await Deno.mkdir(f.joiner.layout.innodbLogGroupHomeDir, { recursive: true });
  await Deno.writeTextFile(`${f.joiner.layout.innodbLogGroupHomeDir}/ib_logfile1`, "old\n");
  // The donor has its own: none of them may travel.
  for (const n of ["ddl_recovery.log", "tc.log", "master.info"]) {
    await Deno.writeTextFile(`${f.donor.layout.datadir}/${n}`, `donor's ${n}\n`);
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

function sst(f: Fixture, bypass = false): Promise<SstResult> {
  return driveSst({ address: f.address, joiner: f.joiner, donor: f.donor, bypass });
}

Deno.test("stale top-level state: a full SST removes the joiner's DDL log, TC log, replica files, relay logs, ib_logfile1 and upgrade marker, copies none of the donor's, keeps the node's own files, and says so in one line", async () => {
  await withFixture({ separateDirs: true }, async (f) => {
    await plant(f);
    const r = await sst(f);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    const dd = f.joiner.layout.datadir;
    for (const n of STALE) assert(!(await exists(`${dd}/${n}`)), `${n} left on the joiner`);
    const redo = `${f.joiner.layout.innodbLogGroupHomeDir}/ib_logfile1`;
    assert(!(await exists(redo)), "ib_logfile1 left in the redo log directory");
    for (const n of OWN) {
      assertEquals(await Deno.readTextFile(`${dd}/${n}`), `joiner's ${n}\n`, `${n} kept`);
    }
    const lines = r.joiner.stderr.split("\n").filter((l) => /server state from before/.test(l));
    assertEquals(lines.length, 1, r.joiner.stderr);
    assertMatch(lines[0], /\[INFO\] removed 10 file\(s\) of this node's server state/);
    for (const n of ["ddl_recovery.log", "tc.log", "master.info", "ib_logfile1"]) {
      assert(lines[0].includes(`/${n}`), `${n} named in: ${lines[0]}`);
    }
    const same = (rel: string) =>
      isTransferredDatadirFile(rel) && !/^(ddl_recovery|tc|master)\.|^joiner|\.dat$/.test(rel);
    assertEquals(
      diffDigests(await treeDigest(f.donor.layout.datadir, same), await treeDigest(dd, same)),
      [],
      "the rest of the joiner's files equal the donor's",
    );
  });
});

Deno.test("stale top-level state: an IST (bypass) leaves the joiner's DDL log, TC log and replica files alone", async () => {
  await withFixture({}, async (f) => {
    await plant(f);
    const r = await sst(f, true);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    for (const n of [...STALE, "ib_logfile1"]) {
      assert(await exists(`${f.joiner.layout.datadir}/${n}`), `${n} removed on IST`);
    }
    assert(!/server state from before/.test(r.joiner.stderr), r.joiner.stderr);
  });
});
