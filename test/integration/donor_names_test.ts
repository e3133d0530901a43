/**
 * Issue 23 item 10: `[sst] donor-names` pins the donors a joiner accepts. With a CA that signs
 * every host, a certificate of that CA for a name not in the list (and the secret read off
 * Galera's plaintext group channel) must not be able to write a datadir: its connection is
 * refused before rsync runs, the joiner writes nothing and logs the names it was shown. The
 * donor the list names transfers as always. Real socat, rsync and openssl over loopback; the
 * joiner logs the Galera-plaintext WARNING (the fixture sets no wsrep_provider_options).
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst } from "../../scripts/lib/sst_driver.ts";
import {
  assertNothingLeft,
  type Fixture,
  leftovers,
  setSst,
  withFixture,
} from "../../scripts/lib/fixture.ts";
import { makeLeaf } from "../../scripts/lib/pki.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { record } from "../../scripts/lib/ledger.ts";

const PINNED = "donor.example.test,192.0.2.7";

/** One SST to a joiner with `donor-names=PINNED` from a donor certificate `name` with `sans`. */
async function pinnedSst(f: Fixture, name: string, sans: string[]) {
  const leaf = await makeLeaf(f.root, f.ca, name, { cn: name, sans });
  await setSst(f.donor, { tcert: leaf.cert, tkey: leaf.key });
  await setSst(f.joiner, { "donor-names": PINNED });
  return await driveSst({
    address: f.address,
    joiner: f.joiner,
    donor: f.donor,
    timeoutMs: 60_000,
  });
}

Deno.test("donor-names: a donor certificate of the same CA issued for another name is refused on every connection, nothing is written, and the joiner's log names what it presented and the key", () =>
  withFixture({}, async (f) => {
    const r = await pinnedSst(f, "rogue", ["DNS:rogue.example.test", "IP:127.0.0.1"]);
    const refused = r.joiner.stderr.split("\n").filter((l) =>
      l.startsWith("WSREP_SST: [ERROR] refused a donor connection")
    );
    const written = leftovers(f.joiner.layout.datadir);
    const ok = refused.length > 0 && written.length === 0 && r.donor !== null &&
      r.donor.code !== 0 && r.joiner.code !== 0;
    record({
      kind: "fault",
      name: "donor certificate of the CA not in donor-names",
      ok,
      detail: `donor exit ${r.donor?.code}, joiner exit ${r.joiner.code}: ${refused[0] ?? ""}`
        .slice(0, 300),
    });
    assert(refused.length > 0, `the joiner logs the refusal:\n${r.joiner.stderr}`);
    assertMatch(refused[0], /DNS:rogue\.example\.test, IP:127\.0\.0\.1/);
    assertMatch(refused[0], /\[sst\] donor-names=donor\.example\.test,192\.0\.2\.7/);
    assertMatch(
      r.joiner.stderr,
      /\[INFO\] donor connections are accepted only from certificates issued for one of: donor\.example\.test, 192\.0\.2\.7/,
    );
    assertMatch(r.joiner.stderr, /\[WARNING\] Galera's group channel is not encrypted/);
    assert(r.donor !== null && r.donor.code !== 0, `the donor fails:\n${r.donor?.stderr}`);
    assertEquals(r.joiner.lines.filter((l) => !l.startsWith("ready ")), [], "no final line");
    assertEquals(written, [], "nothing may be written into the joiner's datadir");
    assertNothingLeft(f, "donor not in donor-names");
  }));

Deno.test("donor-names: the donor whose certificate carries a listed name (subjectAltName DNS) transfers the data identically", () =>
  withFixture({}, async (f) => {
    const r = await pinnedSst(f, "good-donor", ["DNS:DONOR.example.test", "IP:127.0.0.1"]);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assert(!/refused a donor connection/.test(r.joiner.stderr), r.joiner.stderr);
    assertEquals(
      diffDigests(
        await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
        await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
      ),
      [],
    );
    assertNothingLeft(f, "donor in donor-names");
  }));

Deno.test("donor-names: a value that is neither a DNS name nor an IP (a socat special) is refused with the key and its file", () =>
  withFixture({}, async (f) => {
    await setSst(f.joiner, { "donor-names": "node1,evil!!exec:sh" });
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      timeoutMs: 30_000,
    });
    assertEquals(r.joiner.code, 22, r.joiner.stderr);
    assertMatch(
      r.joiner.stderr,
      /\[ERROR\] \[sst\] donor-names entry 'evil!!exec:sh' \(\S+joiner\.cnf:\d+ \[sst\]\) is neither a DNS name nor an IP address/,
    );
    assertEquals(r.donor, null);
    assertEquals(leftovers(f.joiner.layout.datadir), []);
    assertNothingLeft(f, "bad donor-names");
  }));
