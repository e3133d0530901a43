/**
 * `[sst] precopy=auto` with clones (issue 24, item 4): measured on XFS under sysbench, a pre-copy
 * no longer shortens the stop when every part clones under the lock and only adds a copy to the
 * SST, so `auto` makes none then; where a part cannot clone it keeps the 256 MiB threshold.
 */
import { assertEquals } from "../support/assert.ts";
import { PRECOPY_AUTO_BYTES, wantsPrecopy } from "../../src/config/precopy.ts";
import { clonesAll, type CloneSetup } from "../../src/transfer/clone_pass.ts";
import type { Mechanism, PartPlan } from "../../src/transfer/clone_probe.ts";

function setup(...mechanisms: Mechanism[]): CloneSetup {
  const plans: PartPlan[] = mechanisms.map((mechanism, i) => ({
    part: { key: `p${i}`, label: `part ${i}`, dir: `/d${i}` },
    dev: `8:${i}`,
    fsType: mechanism.kind === "clone" ? "xfs" : "ext4",
    mechanism,
  }));
  return { plans, snapshots: null, floor: { fraction: 0.05, minBytes: 1 } };
}

const CLONE: Mechanism = { kind: "clone" };
const LOCKED: Mechanism = { kind: "locked-copy", reason: "ext4: no clones" };

Deno.test("clonesAll: only when every part clones (a split layout with one ext4 part does not)", () => {
  assertEquals(clonesAll(setup(CLONE)), true);
  assertEquals(clonesAll(setup(CLONE, CLONE)), true);
  assertEquals(clonesAll(setup(CLONE, LOCKED)), false);
  assertEquals(clonesAll(setup(LOCKED)), false);
  assertEquals(clonesAll(setup()), false);
});

Deno.test("precopy=auto: none when every part clones, else from 256 MiB; on and off are obeyed", () => {
  const big = 4 * PRECOPY_AUTO_BYTES;
  assertEquals(wantsPrecopy("auto", big, true), false);
  assertEquals(wantsPrecopy("auto", big, false), true);
  assertEquals(wantsPrecopy("auto", PRECOPY_AUTO_BYTES - 1, false), false);
  assertEquals(wantsPrecopy("on", big, true), true);
  assertEquals(wantsPrecopy("off", big, false), false);
});
