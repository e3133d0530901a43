/**
 * `[sst] bwlimit` is a cap on the whole transfer, not on each stream: over a link whose only
 * limit is the cap (loopback), an SST whose data is mostly one large file runs at the cap. The
 * rate is the bytes the donor's pass says it sent over the pass's duration, both from its log.
 * The one timing check the item asks for; the margin is generous (±10 %).
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst } from "../../scripts/lib/sst_driver.ts";
import { withFixture } from "../../scripts/lib/fixture.ts";

const MiB = 1024 * 1024;
const CAP_MIB = 2;

Deno.test("bwlimit=2M is the total: a full SST of one 16 MiB table and small files runs at 2 MiB/s ±10 %, with backup-threads=2", () =>
  withFixture(
    { bigTableBytes: 16 * MiB, donorSstLines: [`bwlimit=${CAP_MIB}M`, "backup-threads=2"] },
    async (f) => {
      const r = await driveSst({
        address: f.address,
        joiner: f.joiner,
        donor: f.donor,
        timeoutMs: 90_000,
      });
      assertEquals(r.joiner.code, 0, r.joiner.stderr);
      assertEquals(r.donor?.code, 0, r.donor?.stderr);
      const log = r.donor!.stderr;
      const m = log.match(/locked pass: copied .*, sent .* \((\d+) bytes\) in ([\d.]+) s/);
      assert(m, `no pass summary in the donor's log:\n${log}`);
      const rate = Number(m[1]) / Number(m[2]) / MiB;
      assert(
        Math.abs(rate - CAP_MIB) <= CAP_MIB * 0.1,
        `the SST ran at ${rate.toFixed(2)} MiB/s, want ${CAP_MIB} MiB/s ±10 % (${m[0]})`,
      );
      assertMatch(log, /\[INFO\] on the wire: bandwidth cap 2\.0 MiB\/s \(--bwlimit=2048\)/);
      assertMatch(
        log,
        /\[INFO\] locked pass: \d+ parts, one rsync at a time: \[sst\] bwlimit caps/,
      );
    },
  ));
