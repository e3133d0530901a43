/**
 * Issue 4, items 1 and 2: which certificate layouts and names let an SST through, and which
 * stop it before any data moves — with real socat, rsync and openssl over loopback.
 *
 * The donor connects to `127.0.0.1:<port>`; it maps that IP to `localhost` through the
 * resolver (as `getent hosts 127.0.0.1` does) and expects that name in the joiner's
 * certificate, so "matching" certificates below carry `localhost` (or the IP).
 *
 * Unreadable key: we run as root, who can read any file, so the joiner side runs as `nobody`
 * through `setpriv --reuid=65534 --regid=65534 --clear-groups` (NodeSpec.wrap) with its
 * datadir and tmpdir handed to that user and every TLS file but the key made world-readable.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst, type SideResult, type SstResult } from "../support/sst_driver.ts";
import {
  assertNothingLeft,
  type Fixture,
  type FixtureNode,
  leftovers,
  makeFixture,
  setSst,
} from "../support/fixture.ts";
import {
  type Ca,
  type Leaf,
  type LeafOptions,
  makeBundle,
  makeCa,
  makeCaDir,
  makeIntermediate,
  makeLeaf,
} from "../support/pki.ts";
import { diffDigests, isTransferredDatadirFile, treeDigest } from "../support/sample_datadir.ts";
import { record } from "../support/ledger.ts";

const ENGINE_FILE = /^(ibdata\d+|ib_logfile0|undo\d+|aria_log_control|aria_log\.\d+)$/;
const transferred = (rel: string) => isTransferredDatadirFile(rel) || ENGINE_FILE.test(rel);

function assertClean(f: Fixture, what: string): void {
  assertNothingLeft(f, what);
}

/** Points a node at other TLS material (null removes the key from `[sst]`). */
async function useTls(
  node: FixtureNode,
  tls: {
    tca?: string | null;
    tcapath?: string | null;
    tcert?: string | null;
    tkey?: string | null;
  },
): Promise<void> {
  await setSst(node, tls);
}

async function leaf(f: Fixture, ca: Ca, name: string, opts: LeafOptions): Promise<Leaf> {
  return await makeLeaf(f.root, ca, name, opts);
}

async function sst(f: Fixture, timeoutMs = 60_000): Promise<SstResult> {
  return await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor, timeoutMs });
}

async function assertSucceeded(f: Fixture, r: SstResult, what: string): Promise<void> {
  assertEquals(r.donor?.code, 0, `donor: ${r.donor?.stderr}`);
  assertEquals(r.joiner.code, 0, `joiner: ${r.joiner.stderr}`);
  assertEquals(r.joiner.lines.length, 2, "ready and the final line");
  assertEquals(
    diffDigests(
      await treeDigest(f.donor.layout.datadir, transferred),
      await treeDigest(f.joiner.layout.datadir, transferred),
    ),
    [],
    "the joiner must hold exactly the donor's data",
  );
  assertClean(f, what);
}

function errorLines(side: SideResult): string[] {
  return side.stderr.split("\n").filter((l) => l.startsWith("WSREP_SST: [ERROR]"));
}

/**
 * The SST stopped before data moved: `side` failed with `code` and exactly one ERROR line
 * matching `error`; the joiner printed no final line, its datadir is still empty, nothing is
 * left behind.
 */
function assertRefused(
  f: Fixture,
  r: SstResult,
  side: "joiner" | "donor",
  /** The exit code, or null for "any non-zero". */
  code: number | null,
  error: RegExp,
  what: string,
): void {
  const s = side === "joiner" ? r.joiner : r.donor;
  assert(s, `the ${side} must have run`);
  const errors = errorLines(s);
  const written = leftovers(f.joiner.layout.datadir);
  const codeOk = code === null ? s.code !== 0 : s.code === code;
  const ok = codeOk && errors.length === 1 && error.test(errors[0]) &&
    written.length === 0 && r.joiner.lines.length <= 1;
  record({
    kind: "fault",
    name: what,
    ok,
    detail: `${side} exit ${s.code}: ${errors.join(" | ").slice(0, 300)}`,
  });
  if (code === null) assert(s.code !== 0, `${side} must fail; stderr:\n${s.stderr}`);
  else assertEquals(s.code, code, `${side} exit code; stderr:\n${s.stderr}`);
  assertEquals(errors.length, 1, `exactly one ERROR line from the ${side}:\n${s.stderr}`);
  assertMatch(errors[0], error);
  assert(r.joiner.lines.length <= 1, `joiner printed a final line: ${r.joiner.lines}`);
  if (r.donor) assert(!r.donor.lines.some((l) => l.startsWith("done")), "donor printed done");
  assertEquals(written, [], "nothing may be written into the joiner's datadir");
  assertClean(f, what);
}

// ---------------------------------------------------------------------------------------------
// Item 1: identities that must work

Deno.test("identity: a joiner certificate with only a matching CN (no subjectAltName) is accepted", async () => {
  const f = await makeFixture();
  try {
    const j = await leaf(f, f.ca, "joiner-cn", { cn: "localhost", sans: [] });
    await useTls(f.joiner, { tcert: j.cert, tkey: j.key });
    const r = await sst(f);
    await assertSucceeded(f, r, "CN-only joiner certificate");
    assertMatch(r.donor!.stderr, /certificate name must be 'localhost'/);
    assertMatch(r.joiner.stderr, /WARNING.*has no subjectAltName, only CN=localhost/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("identity: a subjectAltName DNS entry matching the joiner's name is accepted although the CN differs", async () => {
  const f = await makeFixture();
  try {
    const j = await leaf(f, f.ca, "joiner-san", {
      cn: "some-other-name.invalid",
      sans: ["DNS:localhost"],
    });
    await useTls(f.joiner, { tcert: j.cert, tkey: j.key });
    await assertSucceeded(f, await sst(f), "SAN-DNS-only joiner certificate");
  } finally {
    await f.cleanup();
  }
});

Deno.test("identity: a joiner certificate carrying only IP:127.0.0.1 is accepted for address 127.0.0.1", async () => {
  const f = await makeFixture();
  try {
    const j = await leaf(f, f.ca, "joiner-ip", {
      cn: "no-name.invalid",
      sans: ["IP:127.0.0.1"],
    });
    await useTls(f.joiner, { tcert: j.cert, tkey: j.key });
    await assertSucceeded(f, await sst(f), "SAN-IP-only joiner certificate");
  } finally {
    await f.cleanup();
  }
});

Deno.test("identity: key and certificate combined in tcert (no tkey) work on both sides", async () => {
  const f = await makeFixture();
  try {
    await useTls(f.joiner, { tcert: f.joiner.leaf.combined, tkey: null });
    await useTls(f.donor, { tcert: f.donor.leaf.combined, tkey: null });
    await assertSucceeded(f, await sst(f), "combined key+cert in tcert");
  } finally {
    await f.cleanup();
  }
});

/** Gives `node` a leaf issued by an intermediate CA, with tcert = leaf + intermediate. */
async function useIntermediateChain(f: Fixture, node: FixtureNode, inter: Ca): Promise<void> {
  const sans = ["DNS:localhost", "IP:127.0.0.1"];
  const l = await leaf(f, inter, `${node.leaf.name}-via-int`, { cn: "localhost", sans });
  const bundle = await makeBundle(f.root, `${l.name}-chain.pem`, [l.cert, inter.cert]);
  await useTls(node, { tca: f.ca.cert, tcert: bundle, tkey: l.key });
}

Deno.test("identity: the joiner's leaf + intermediate bundle in tcert verifies against the donor's root-only tca", async () => {
  const f = await makeFixture();
  try {
    await useIntermediateChain(f, f.joiner, await makeIntermediate(f.root, f.ca, "int-ca"));
    await assertSucceeded(f, await sst(f), "joiner leaf+intermediate tcert, root-only tca");
  } finally {
    await f.cleanup();
  }
});

Deno.test({
  name:
    "identity: the donor's leaf + intermediate bundle in tcert verifies against the joiner's root-only tca",
  fn: async () => {
    const f = await makeFixture();
    try {
      const inter = await makeIntermediate(f.root, f.ca, "int-ca");
      await useIntermediateChain(f, f.donor, inter);
      await useIntermediateChain(f, f.joiner, inter);
      await assertSucceeded(f, await sst(f), "donor leaf+intermediate tcert, root-only tca");
    } finally {
      await f.cleanup();
    }
  },
});

Deno.test("identity: a hashed tcapath directory (openssl rehash) replaces tca on both sides", async () => {
  const f = await makeFixture();
  try {
    const dir = await makeCaDir(f.root, "ca-dir", [f.ca], true);
    await useTls(f.joiner, { tca: null, tcapath: dir });
    await useTls(f.donor, { tca: null, tcapath: dir });
    const r = await sst(f);
    await assertSucceeded(f, r, "tcapath");
    assertMatch(r.joiner.stderr, new RegExp(`trusted CAs ${dir}`));
  } finally {
    await f.cleanup();
  }
});

Deno.test("identity: per-node certificates with different names from one CA work (the joiner checks only the donor's chain)", async () => {
  const f = await makeFixture();
  try {
    const d = await leaf(f, f.ca, "donor-own", {
      cn: "donor-node.invalid",
      sans: ["DNS:donor-node.invalid"],
    });
    await useTls(f.donor, { tcert: d.cert, tkey: d.key });
    await assertSucceeded(f, await sst(f), "per-node certificates from one CA");
  } finally {
    await f.cleanup();
  }
});

// ---------------------------------------------------------------------------------------------
// Item 2: identities that must fail before any data moves

Deno.test("identity refused: a joiner certificate for another name stops the donor (exit 129) naming the peer and the fix", async () => {
  const f = await makeFixture();
  try {
    const j = await leaf(f, f.ca, "joiner-other", {
      cn: "other-node.invalid",
      sans: ["DNS:other-node.invalid"],
    });
    await useTls(f.joiner, { tcert: j.cert, tkey: j.key });
    const r = await sst(f);
    assertRefused(
      f,
      r,
      "donor",
      129,
      /certificate of joiner 127\.0\.0\.1:\d+ .*is not issued for 'localhost'.*; reissue the joiner's \[sst\] tcert/,
      "joiner certificate for another name",
    );
  } finally {
    await f.cleanup();
  }
});

/** The donor gets a certificate from a CA only it trusts (it also trusts the joiner's CA). */
async function useDonorCaUntrustedByJoiner(f: Fixture): Promise<void> {
  const rogue = await makeCa(f.root, "rogue-ca");
  const d = await leaf(f, rogue, "donor-rogue", { cn: "localhost", sans: ["DNS:localhost"] });
  const both = await makeBundle(f.root, "both-cas.pem", [rogue.cert, f.ca.cert]);
  await useTls(f.donor, { tca: both, tcert: d.cert, tkey: d.key });
}

Deno.test("identity refused: a donor certificate from a CA the joiner does not trust stops the SST before data moves, with one ERROR line naming the joiner's address", async () => {
  const f = await makeFixture();
  try {
    await useDonorCaUntrustedByJoiner(f);
    assertRefused(
      f,
      await sst(f),
      "donor",
      null,
      /127\.0\.0\.1:\d+/,
      "donor certificate from a CA the joiner does not trust (fails closed)",
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test({
  name:
    "identity refused: a donor certificate from a CA the joiner does not trust stops the donor (exit 129) saying the joiner does not trust our CA",
  fn: async () => {
    const f = await makeFixture();
    try {
      await useDonorCaUntrustedByJoiner(f);
      assertRefused(
        f,
        await sst(f),
        "donor",
        129,
        /joiner 127\.0\.0\.1:\d+ does not trust the CA that issued our certificate.*tca/,
        "donor certificate from a CA the joiner does not trust (exit 129, reason named)",
      );
    } finally {
      await f.cleanup();
    }
  },
});

Deno.test("identity refused: a joiner certificate from a CA the donor does not trust stops the donor (exit 129) naming the joiner and the fix", async () => {
  const f = await makeFixture();
  try {
    const rogue = await makeCa(f.root, "rogue-ca");
    const j = await leaf(f, rogue, "joiner-rogue", { cn: "localhost", sans: ["DNS:localhost"] });
    const both = await makeBundle(f.root, "both-cas.pem", [rogue.cert, f.ca.cert]);
    await useTls(f.joiner, { tca: both, tcert: j.cert, tkey: j.key });
    const r = await sst(f);
    assertRefused(
      f,
      r,
      "donor",
      129,
      /certificate of joiner 127\.0\.0\.1:\d+.*(not issued by a CA in our|we rejected).*tca/,
      "joiner certificate from a CA the donor does not trust",
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test("identity refused: an expired donor certificate stops the donor before flush tables (exit 22) naming tcert and 'renew'", async () => {
  const f = await makeFixture();
  try {
    const d = await leaf(f, f.ca, "donor-expired", {
      cn: "localhost",
      sans: ["DNS:localhost"],
      startDate: "20200101000000Z",
      endDate: "20200201000000Z",
    });
    await useTls(f.donor, { tcert: d.cert, tkey: d.key });
    const r = await sst(f);
    assertRefused(
      f,
      r,
      "donor",
      22,
      new RegExp(`\\[sst\\] tcert=${d.cert}.*expired.*renew`),
      "expired donor certificate",
    );
    assertEquals(r.donor!.lines, [], "the donor must stop before flush tables");
  } finally {
    await f.cleanup();
  }
});

Deno.test("identity refused: a not-yet-valid joiner certificate stops the joiner before ready (exit 22) naming tcert", async () => {
  const f = await makeFixture();
  try {
    const j = await leaf(f, f.ca, "joiner-future", {
      cn: "localhost",
      sans: ["DNS:localhost"],
      startDate: "20990101000000Z",
      endDate: "20991231000000Z",
    });
    await useTls(f.joiner, { tcert: j.cert, tkey: j.key });
    const r = await sst(f);
    assertRefused(
      f,
      r,
      "joiner",
      22,
      new RegExp(`\\[sst\\] tcert=${j.cert}.*not (yet )?valid.*(clock|wait|until)`, "i"),
      "not-yet-valid joiner certificate",
    );
    assertEquals(r.joiner.lines, [], "no ready line");
    assertEquals(r.donor, null, "no donor may be asked to start");
  } finally {
    await f.cleanup();
  }
});

Deno.test("identity refused: a key that does not belong to tcert stops the joiner before ready (exit 22) naming both files", async () => {
  const f = await makeFixture();
  try {
    await useTls(f.joiner, { tkey: f.donor.leaf.key });
    const r = await sst(f);
    assertRefused(
      f,
      r,
      "joiner",
      22,
      new RegExp(
        `${f.donor.leaf.key}.*${f.joiner.leaf.cert}|${f.joiner.leaf.cert}.*${f.donor.leaf.key}`,
      ),
      "key/cert mismatch",
    );
    assertEquals(r.joiner.lines, []);
  } finally {
    await f.cleanup();
  }
});

Deno.test("identity refused: a key the SST user cannot read (joiner as nobody, key 0600 root) stops it before ready (exit 13)", async () => {
  const f = await makeFixture();
  try {
    await Deno.chmod(f.root, 0o711);
    for (const p of [f.ca.cert, f.joiner.leaf.cert, f.joiner.defaultsFile]) {
      await Deno.chmod(p, 0o644);
    }
    for (const d of [f.joiner.layout.datadir, f.joiner.tmpdir]) await Deno.chown(d, 65534, 65534);
    f.joiner.wrap = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    const r = await sst(f, 30_000);
    assertRefused(
      f,
      r,
      "joiner",
      13,
      new RegExp(
        `\\[sst\\] tkey=${f.joiner.leaf.key} is not readable by uid 65534.*(chown|chmod)`,
      ),
      "unreadable key (joiner as nobody)",
    );
    assertEquals(r.joiner.lines, []);
  } finally {
    await f.cleanup();
  }
});

Deno.test("identity refused: a tkey that is a directory stops the joiner before ready (exit 22)", async () => {
  const f = await makeFixture();
  try {
    await useTls(f.joiner, { tkey: f.joiner.tmpdir });
    const r = await sst(f);
    assertRefused(
      f,
      r,
      "joiner",
      22,
      new RegExp(`\\[sst\\] tkey=${f.joiner.tmpdir} is a directory.*PEM file`),
      "tkey is a directory",
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test("identity refused: a missing tcert (unset, or a path that does not exist) stops the side before it starts anything (exit 22)", async () => {
  const f = await makeFixture();
  try {
    await useTls(f.joiner, { tcert: null });
    assertRefused(
      f,
      await sst(f),
      "joiner",
      22,
      /\[sst\] tcert is not set; set \[sst\] tcert/,
      "tcert unset (joiner)",
    );
    await useTls(f.joiner, { tcert: f.joiner.leaf.cert });
    const missing = `${f.root}/no-such-cert.pem`;
    await useTls(f.donor, { tcert: missing });
    const r = await sst(f);
    assertRefused(
      f,
      r,
      "donor",
      22,
      new RegExp(`\\[sst\\] tcert=${missing} does not exist; fix the path`),
      "tcert path does not exist (donor)",
    );
    assertEquals(r.donor!.lines, [], "the donor must stop before flush tables");
  } finally {
    await f.cleanup();
  }
});
