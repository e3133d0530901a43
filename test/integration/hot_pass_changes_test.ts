/**
 * A table truncated in place while the hot pre-copy reads it (MyISAM/Aria `TRUNCATE`, `DELETE`
 * without `WHERE`, a CSV log table, `innodb_undo_log_truncate`), and a file removed while its
 * rsync runs: rsync exits 23 ("read errors mapping … No data available", "file has vanished"),
 * which the locked pass settles, so the SST goes on, counts them in one log line, and the
 * joiner ends equal to the donor's locked state. Real socat, rsync and openssl over loopback.
 *
 * The trigger is what the joiner receives: `--inplace` writes the table where it will stay, so
 * once 1 MiB of it arrived the donor's rsync is reading it (the cap keeps it at that for
 * seconds), and the table is cut to 4 MiB. The test fails if the cut came too late to be seen.
 *
 * Recorded in the hardening ledger as a fault.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst } from "../../scripts/lib/sst_driver.ts";
import { fileSize, pollUntil, withFixture } from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { record } from "../../scripts/lib/ledger.ts";

const MiB = 1024 * 1024;

Deno.test("precopy=on: a table truncated in place while the hot pass reads it and a file removed meanwhile are tolerated and counted; the joiner equals the donor's locked state", () =>
  withFixture(
    { bigTableBytes: 32 * MiB, donorSstLines: ["precopy=on", "bwlimit=8M"] },
    async (f) => {
      const name = "a table truncated in place and a file removed during the hot pre-copy";
      const dd = f.donor.layout.datadir;
      const table = `${dd}/shop/orders.ibd`;
      // A CSV log table beside it: listed with the table, gone before rsync reads it.
      const log = `${dd}/shop/zz_slow_log.CSV`;
      await Deno.writeFile(log, crypto.getRandomValues(new Uint8Array(60_000)));
      const arriving = `${f.joiner.layout.datadir}/shop/orders.ibd`;
      let cut = false;
      let locked = new Map<string, string>();
      const r = await driveSst({
        address: f.address,
        joiner: f.joiner,
        donor: f.donor,
        timeoutMs: 90_000,
        onReady: () => {
          void pollUntil(() => fileSize(arriving) > MiB, 60_000, 5).then(async (seen) => {
            if (!seen) return;
            await Deno.truncate(table, 4 * MiB);
            await Deno.remove(log);
            cut = true;
          });
          return Promise.resolve();
        },
        onFlush: async () => {
          locked = await treeDigest(dd, isTransferredDatadirFile);
        },
      });
      const donorLog = r.donor?.stderr ?? "";
      const counted = donorLog.match(
        /hot pre-copy \(the server takes writes\): (\d+) rsync error\(s\) tolerated \((\d+) file\(s\) shrank while read, (\d+) vanished; first: .*\): the locked pass compares/,
      );
      const joined = await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile);
      const differs = diffDigests(locked, joined);
      const ok = r.donor?.code === 0 && r.joiner.code === 0 && cut && counted !== null &&
        differs.length === 0;
      record({
        kind: "fault",
        name,
        ok,
        detail: `donor exit ${r.donor?.code}, joiner exit ${r.joiner.code}, ` +
          `tolerated: ${counted?.[0] ?? "none"}, differing files: ${differs.length}`,
      });
      assert(cut, "the table was never seen arriving");
      assertEquals(r.donor?.code, 0, donorLog);
      assertEquals(r.joiner.code, 0, r.joiner.stderr);
      assert(counted, `no count of tolerated errors in the donor's log:\n${donorLog}`);
      assertEquals([counted[1], counted[2], counted[3]], ["2", "1", "1"], counted[0]);
      assertMatch(counted[0], /read errors mapping ".*shop\/orders\.ibd": No data available/);
      assert(
        !/\[WARNING\] rsync:/.test(donorLog),
        "a tolerated rsync line was logged as a warning",
      );
      assertEquals(fileSize(`${f.joiner.layout.datadir}/shop/orders.ibd`), 4 * MiB);
      assert(!joined.has("shop/zz_slow_log.CSV"), "the removed file arrived");
      assertEquals(differs, [], "the joiner differs from the donor's locked state");
    },
  ));
