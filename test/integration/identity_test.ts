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
 *
 * Each case is one row of ACCEPTED or REFUSED; one runner per table makes the fixture, applies
 * the row's setup, runs the SST and checks the outcome.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst, type SideResult, type SstResult } from "../../scripts/lib/sst_driver.ts";
import {
  assertNothingLeft,
  type Fixture,
  type FixtureNode,
  leftovers,
  setSst,
  withFixture,
} from "../../scripts/lib/fixture.ts";
import {
  type Ca,
  type LeafOptions,
  makeBundle,
  makeCa,
  makeCaDir,
  makeIntermediate,
  makeLeaf,
} from "../../scripts/lib/pki.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { record } from "../../scripts/lib/ledger.ts";

const transferred = isTransferredDatadirFile;

type Side = "joiner" | "donor";

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

/** Issues a leaf from `ca` (default the fixture's CA), points `side` at it; returns its cert. */
async function useLeaf(
  f: Fixture,
  side: Side,
  name: string,
  opts: LeafOptions,
  ca: Ca = f.ca,
): Promise<string> {
  const l = await makeLeaf(f.root, ca, name, opts);
  await useTls(f[side], { tcert: l.cert, tkey: l.key });
  return l.cert;
}

/** Gives `node` a leaf issued by an intermediate CA, with tcert = leaf + intermediate. */
async function useIntermediateChain(f: Fixture, node: FixtureNode, inter: Ca): Promise<void> {
  const sans = ["DNS:localhost", "IP:127.0.0.1"];
  const l = await makeLeaf(f.root, inter, `${node.leaf.name}-via-int`, { cn: "localhost", sans });
  const bundle = await makeBundle(f.root, `${l.name}-chain.pem`, [l.cert, inter.cert]);
  await useTls(node, { tca: f.ca.cert, tcert: bundle, tkey: l.key });
}

/** `side` gets a certificate from a rogue CA that only it trusts (besides the fixture's CA). */
async function useRogueCa(f: Fixture, side: Side): Promise<void> {
  const rogue = await makeCa(f.root, "rogue-ca");
  const l = await makeLeaf(f.root, rogue, `${side}-rogue`, {
    cn: "localhost",
    sans: ["DNS:localhost"],
  });
  const both = await makeBundle(f.root, "both-cas.pem", [rogue.cert, f.ca.cert]);
  await useTls(f[side], { tca: both, tcert: l.cert, tkey: l.key });
}

/** The joiner runs as `nobody`; everything it needs but its key (0600 root) is readable. */
async function runJoinerAsNobody(f: Fixture): Promise<void> {
  await Deno.chmod(f.root, 0o711);
  for (const p of [f.ca.cert, f.joiner.leaf.cert, f.joiner.defaultsFile]) {
    await Deno.chmod(p, 0o644);
  }
  for (const d of [f.joiner.layout.datadir, f.joiner.tmpdir]) await Deno.chown(d, 65534, 65534);
  f.joiner.wrap = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
}

async function sst(f: Fixture, timeoutMs = 60_000): Promise<SstResult> {
  return await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor, timeoutMs });
}

// ---------------------------------------------------------------------------------------------
// Item 1: identities that must work

/** An identity layout that must let the SST through. */
interface Accepted {
  /** What the case proves; the test is named `identity: <name>`. */
  name: string;
  /** Short label of the layout, recorded by the leftover check as `after <what>`. */
  what: string;
  /** Changes the fixture's TLS material; may return a path that `expect` names. */
  setup: (f: Fixture) => Promise<string | void>;
  /** Further checks on the finished SST; `made` is what `setup` returned ("" for nothing). */
  expect?: (r: SstResult, made: string) => void;
}

const ACCEPTED: Accepted[] = [
  {
    name: "a joiner certificate with only a matching CN (no subjectAltName) is accepted",
    what: "CN-only joiner certificate",
    setup: (f) => useLeaf(f, "joiner", "joiner-cn", { cn: "localhost", sans: [] }),
    expect: (r) => {
      assertMatch(r.donor!.stderr, /certificate name must be 'localhost'/);
      assertMatch(r.joiner.stderr, /WARNING.*has no subjectAltName, only CN=localhost/);
    },
  },
  {
    name:
      "a subjectAltName DNS entry matching the joiner's name is accepted although the CN differs",
    what: "SAN-DNS-only joiner certificate",
    setup: (f) =>
      useLeaf(f, "joiner", "joiner-san", {
        cn: "some-other-name.invalid",
        sans: ["DNS:localhost"],
      }),
  },
  {
    name: "a joiner certificate carrying only IP:127.0.0.1 is accepted for address 127.0.0.1",
    what: "SAN-IP-only joiner certificate",
    setup: (f) =>
      useLeaf(f, "joiner", "joiner-ip", { cn: "no-name.invalid", sans: ["IP:127.0.0.1"] }),
  },
  {
    name: "key and certificate combined in tcert (no tkey) work on both sides",
    what: "combined key+cert in tcert",
    setup: async (f) => {
      await useTls(f.joiner, { tcert: f.joiner.leaf.combined, tkey: null });
      await useTls(f.donor, { tcert: f.donor.leaf.combined, tkey: null });
    },
  },
  {
    name:
      "the joiner's leaf + intermediate bundle in tcert verifies against the donor's root-only tca",
    what: "joiner leaf+intermediate tcert, root-only tca",
    setup: async (f) =>
      await useIntermediateChain(f, f.joiner, await makeIntermediate(f.root, f.ca, "int-ca")),
  },
  {
    name:
      "the donor's leaf + intermediate bundle in tcert verifies against the joiner's root-only tca",
    what: "donor leaf+intermediate tcert, root-only tca",
    setup: async (f) => {
      const inter = await makeIntermediate(f.root, f.ca, "int-ca");
      await useIntermediateChain(f, f.donor, inter);
      await useIntermediateChain(f, f.joiner, inter);
    },
  },
  {
    name: "a hashed tcapath directory (openssl rehash) replaces tca on both sides",
    what: "tcapath",
    setup: async (f) => {
      const dir = await makeCaDir(f.root, "ca-dir", [f.ca], true);
      await useTls(f.joiner, { tca: null, tcapath: dir });
      await useTls(f.donor, { tca: null, tcapath: dir });
      return dir;
    },
    expect: (r, dir) => assertMatch(r.joiner.stderr, new RegExp(`trusted CAs ${dir}`)),
  },
  {
    name:
      "per-node certificates with different names from one CA work (the joiner checks only the donor's chain)",
    what: "per-node certificates from one CA",
    setup: (f) =>
      useLeaf(f, "donor", "donor-own", {
        cn: "donor-node.invalid",
        sans: ["DNS:donor-node.invalid"],
      }),
  },
];

/** Both sides exit 0, the joiner holds exactly the donor's data, nothing is left behind. */
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
  assertNothingLeft(f, what);
}

function runAccepted(c: Accepted): Promise<void> {
  return withFixture({}, async (f) => {
    const made = (await c.setup(f)) ?? "";
    const r = await sst(f);
    await assertSucceeded(f, r, c.what);
    c.expect?.(r, made);
  });
}

for (const c of ACCEPTED) Deno.test(`identity: ${c.name}`, () => runAccepted(c));

// ---------------------------------------------------------------------------------------------
// Item 2: identities that must fail before any data moves

/** An identity problem that must stop the SST before any data moves. */
interface Refused {
  /** What the case proves; the test is named `identity refused: <name>`. */
  name: string;
  /** The fault's name in the ledger (and the leftover check's `after <what>`). */
  what: string;
  /** Breaks the fixture's TLS material; may return a path that `message` names. */
  setup: (f: Fixture) => Promise<string | void>;
  /** The side that must fail. */
  side: Side;
  /** Its exit code: the one this cause has. */
  exit: number;
  /** Its one ERROR line; `made` is what `setup` returned ("" for nothing). */
  message: RegExp | ((f: Fixture, made: string) => RegExp);
  /** The SST's time limit (default 60 s). */
  timeoutMs?: number;
  /** Further checks on the stopped SST. */
  expect?: (r: SstResult) => void;
}

/** The donor stopped before `flush tables` (it printed nothing to mariadbd). */
const donorStoppedBeforeFlush = (r: SstResult) =>
  assertEquals(r.donor!.lines, [], "the donor must stop before flush tables");

/** The joiner stopped before `ready`. */
const joinerStoppedBeforeReady = (r: SstResult) =>
  assertEquals(r.joiner.lines, [], "no ready line");

const REFUSED: Refused[] = [
  {
    name:
      "a joiner certificate for another name stops the donor (exit 129) naming the peer and the fix",
    what: "joiner certificate for another name",
    setup: (f) =>
      useLeaf(f, "joiner", "joiner-other", {
        cn: "other-node.invalid",
        sans: ["DNS:other-node.invalid"],
      }),
    side: "donor",
    exit: 129,
    message:
      /certificate of joiner 127\.0\.0\.1:\d+ .*is not issued for '127\.0\.0\.1' or 'localhost'; reissue the joiner's \[sst\] tcert with subjectAltName IP:127\.0\.0\.1/,
  },
  {
    name:
      "a donor certificate from a CA the joiner does not trust stops the donor (exit 129) saying the joiner does not trust our CA",
    what: "donor certificate from a CA the joiner does not trust (exit 129, reason named)",
    setup: (f) => useRogueCa(f, "donor"),
    side: "donor",
    exit: 129,
    message: /joiner 127\.0\.0\.1:\d+ does not trust the CA that issued our certificate.*tca/,
  },
  {
    name:
      "a joiner certificate from a CA the donor does not trust stops the donor (exit 129) naming the joiner and the fix",
    what: "joiner certificate from a CA the donor does not trust",
    setup: (f) => useRogueCa(f, "joiner"),
    side: "donor",
    exit: 129,
    message: /certificate of joiner 127\.0\.0\.1:\d+.*(not issued by a CA in our|we rejected).*tca/,
  },
  {
    name:
      "an expired donor certificate stops the donor before flush tables (exit 22) naming tcert and 'renew'",
    what: "expired donor certificate",
    setup: (f) =>
      useLeaf(f, "donor", "donor-expired", {
        cn: "localhost",
        sans: ["DNS:localhost"],
        startDate: "20200101000000Z",
        endDate: "20200201000000Z",
      }),
    side: "donor",
    exit: 22,
    message: (_f, cert) => new RegExp(`\\[sst\\] tcert=${cert}.*expired.*renew`),
    expect: donorStoppedBeforeFlush,
  },
  {
    name: "a not-yet-valid joiner certificate stops the joiner before ready (exit 22) naming tcert",
    what: "not-yet-valid joiner certificate",
    setup: (f) =>
      useLeaf(f, "joiner", "joiner-future", {
        cn: "localhost",
        sans: ["DNS:localhost"],
        startDate: "20990101000000Z",
        endDate: "20991231000000Z",
      }),
    side: "joiner",
    exit: 22,
    message: (_f, cert) =>
      new RegExp(`\\[sst\\] tcert=${cert}.*not (yet )?valid.*(clock|wait|until)`, "i"),
    expect: (r) => {
      joinerStoppedBeforeReady(r);
      assertEquals(r.donor, null, "no donor may be asked to start");
    },
  },
  {
    name:
      "a key that does not belong to tcert stops the joiner before ready (exit 22) naming both files",
    what: "key/cert mismatch",
    setup: (f) => useTls(f.joiner, { tkey: f.donor.leaf.key }),
    side: "joiner",
    exit: 22,
    message: (f) => {
      const [key, cert] = [f.donor.leaf.key, f.joiner.leaf.cert];
      return new RegExp(`${key}.*${cert}|${cert}.*${key}`);
    },
    expect: joinerStoppedBeforeReady,
  },
  {
    name:
      "a key the SST user cannot read (joiner as nobody, key 0600 root) stops it before ready (exit 13)",
    what: "unreadable key (joiner as nobody)",
    setup: runJoinerAsNobody,
    side: "joiner",
    exit: 13,
    message: (f) =>
      new RegExp(`\\[sst\\] tkey=${f.joiner.leaf.key} is not readable by uid 65534.*(chown|chmod)`),
    timeoutMs: 30_000,
    expect: joinerStoppedBeforeReady,
  },
  {
    name: "a tkey that is a directory stops the joiner before ready (exit 22)",
    what: "tkey is a directory",
    setup: (f) => useTls(f.joiner, { tkey: f.joiner.tmpdir }),
    side: "joiner",
    exit: 22,
    message: (f) => new RegExp(`\\[sst\\] tkey=${f.joiner.tmpdir} is a directory.*PEM file`),
  },
  {
    name: "an unset tcert stops the joiner before it starts anything (exit 22)",
    what: "tcert unset (joiner)",
    setup: (f) => useTls(f.joiner, { tcert: null }),
    side: "joiner",
    exit: 22,
    message: /\[sst\] tcert is not set; set \[sst\] tcert/,
  },
  {
    name: "a tcert path that does not exist stops the donor before it starts anything (exit 22)",
    what: "tcert path does not exist (donor)",
    setup: (f) => useTls(f.donor, { tcert: `${f.root}/no-such-cert.pem` }),
    side: "donor",
    exit: 22,
    message: (f) =>
      new RegExp(`\\[sst\\] tcert=${f.root}/no-such-cert.pem does not exist; fix the path`),
    expect: donorStoppedBeforeFlush,
  },
];

function errorLines(side: SideResult): string[] {
  return side.stderr.split("\n").filter((l) => l.startsWith("WSREP_SST: [ERROR]"));
}

/**
 * The SST stopped before data moved: `c.side` failed with `c.exit` and exactly one ERROR line
 * matching `error`; the joiner printed no final line, its datadir is still empty, nothing is
 * left behind. Records the outcome as a configuration refusal in the ledger.
 */
function assertRefused(f: Fixture, r: SstResult, c: Refused, error: RegExp): void {
  const s = c.side === "joiner" ? r.joiner : r.donor;
  assert(s, `the ${c.side} must have run`);
  const errors = errorLines(s);
  const written = leftovers(f.joiner.layout.datadir);
  const ok = s.code === c.exit && errors.length === 1 && error.test(errors[0]) &&
    written.length === 0 && r.joiner.lines.length <= 1;
  record({
    kind: "config-refusal",
    name: c.what,
    ok,
    detail: `${c.side} exit ${s.code}: ${errors.join(" | ").slice(0, 300)}`,
  });
  assertEquals(s.code, c.exit, `${c.side} exit code; stderr:\n${s.stderr}`);
  assertEquals(errors.length, 1, `exactly one ERROR line from the ${c.side}:\n${s.stderr}`);
  assertMatch(errors[0], error);
  assert(r.joiner.lines.length <= 1, `joiner printed a final line: ${r.joiner.lines}`);
  if (r.donor) assert(!r.donor.lines.some((l) => l.startsWith("done")), "donor printed done");
  assertEquals(written, [], "nothing may be written into the joiner's datadir");
  assertNothingLeft(f, c.what);
}

function runRefused(c: Refused): Promise<void> {
  return withFixture({}, async (f) => {
    const made = (await c.setup(f)) ?? "";
    const error = typeof c.message === "function" ? c.message(f, made) : c.message;
    const r = await sst(f, c.timeoutMs);
    assertRefused(f, r, c, error);
    c.expect?.(r);
  });
}

for (const c of REFUSED) Deno.test(`identity refused: ${c.name}`, () => runRefused(c));
