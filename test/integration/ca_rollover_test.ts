/**
 * The README's certificate renewal without downtime, step by step over loopback with real socat,
 * rsync and openssl: a cluster on the old CA moves to a new CA while SSTs keep working.
 * (1) every node's `tca` becomes the bundle of both CAs; (2) node by node, `tcert`/`tkey` point
 * at new files issued by the new CA: the SST between a node already switched and one not yet
 * switched succeeds in both roles; (3) once both are switched, the old CA is dropped from the
 * bundles. The control: without step 1, the first switched node is refused (exit 129).
 */
import { assertEquals } from "../support/assert.ts";
import { driveSst } from "../../scripts/lib/sst_driver.ts";
import { type Fixture, makeFixture, setSst } from "../../scripts/lib/fixture.ts";
import { makeBundle, makeCa, makeLeaf } from "../../scripts/lib/pki.ts";

const SANS = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"];

async function sstBothWays(f: Fixture, step: string): Promise<void> {
  for (const swap of [false, true]) {
    const r = await driveSst({
      address: f.address,
      // After A → B, B holds the data set and donates it back to A.
      joiner: swap ? f.donor : f.joiner,
      donor: swap ? f.joiner : f.donor,
    });
    const roles = swap ? "node B donor, node A joiner" : "node A donor, node B joiner";
    assertEquals(r.joiner.code, 0, `${step} (${roles}): ${r.joiner.stderr}`);
    assertEquals(r.donor?.code, 0, `${step} (${roles}): ${r.donor?.stderr}`);
  }
}

Deno.test("CA rollover as the README says: both CAs in every tca first, then each node's new certificate under new file names; SSTs work at every step, and fail without the bundle", async () => {
  const f = await makeFixture();
  try {
    // The fixture's option files: A (f.donor) and B (f.joiner), both on the old CA.
    const newCa = await makeCa(f.root, "new-ca");
    const bundle = await makeBundle(f.root, "ca-bundle.pem", [f.ca.cert, newCa.cert]);
    const leafA = await makeLeaf(f.root, newCa, "a-2027", { cn: "localhost", sans: SANS });
    const leafB = await makeLeaf(f.root, newCa, "b-2027", { cn: "localhost", sans: SANS });
    const switchTo = (leaf: typeof leafA) => ({ tcert: leaf.cert, tkey: leaf.key });

    await sstBothWays(f, "before");

    // Control: switching A's certificate before B trusts the new CA breaks the SST.
    await setSst(f.donor, switchTo(leafA));
    const refused = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
    assertEquals(
      [refused.donor?.code === 0, refused.joiner.code === 0],
      [false, false],
      "a certificate of a CA the peer does not trust yet is refused",
    );
    await setSst(f.donor, { tcert: `${f.root}/donor.crt`, tkey: `${f.root}/donor.key` });

    // (1) both CAs in every node's tca.
    await setSst(f.donor, { tca: bundle });
    await setSst(f.joiner, { tca: bundle });
    await sstBothWays(f, "step 1 (bundle everywhere)");
    // (2) node by node.
    await setSst(f.donor, switchTo(leafA));
    await sstBothWays(f, "step 2 (A switched, B not yet)");
    await setSst(f.joiner, switchTo(leafB));
    await sstBothWays(f, "step 2 (both switched)");
    // (3) the old CA out of the bundles.
    await setSst(f.donor, { tca: newCa.cert });
    await setSst(f.joiner, { tca: newCa.cert });
    await sstBothWays(f, "step 3 (new CA only)");
  } finally {
    await f.cleanup();
  }
});
