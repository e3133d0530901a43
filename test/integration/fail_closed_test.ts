/**
 * Issue 4, item 3 (and the "TLS on one side only" case of item 2): without a TLS-capable socat
 * or without rsync nothing starts — never a plaintext fallback; `sockopt=verify=0` works but is
 * loud; a donor that reaches a plaintext server stops with "not speaking TLS" (exit 71).
 *
 * Missing or crippled tools are simulated with a private PATH: symlinks to the real tools we
 * keep, and for "socat without OpenSSL" a `socat` script whose `-V` output lacks
 * `#define WITH_OPENSSL 1` (anything else is logged and passed to the real socat).
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  driveDonor,
  driveSst,
  type SideResult,
  type SstResult,
} from "../../scripts/lib/sst_driver.ts";
import {
  assertNothingLeft,
  type Fixture,
  leftovers,
  makeToolDir,
  setSst,
  toolPath,
  withFixture,
} from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { type LedgerKind, record, recordCount } from "../../scripts/lib/ledger.ts";

/** A valid-looking per-SST secret (what the joiner's `ready` carries before the `@`). */
const SECRET = "0123456789abcdef0123456789abcdef";

function errorLines(side: SideResult): string[] {
  return side.stderr.split("\n").filter((l) => l.startsWith("WSREP_SST: [ERROR]"));
}

/**
 * One side stopped on its own before printing anything: exit `code`, exactly one ERROR line
 * matching `error`, no stdout line (no `ready`, no `flush tables`), nothing left behind.
 */
function assertStoppedFirst(
  f: Fixture,
  side: SideResult,
  code: number,
  error: RegExp,
  what: string,
  kind: LedgerKind = "config-refusal",
): void {
  const errors = errorLines(side);
  const ok = side.code === code && side.lines.length === 0 && errors.length === 1 &&
    error.test(errors[0]);
  record({
    kind,
    name: what,
    ok,
    detail: `exit ${side.code}, stdout ${JSON.stringify(side.lines)}: ${errors.join(" | ")}`
      .slice(0, 400),
  });
  assertEquals(side.code, code, side.stderr);
  assertEquals(side.lines, [], "nothing may be printed on stdout (no ready / flush tables)");
  assertEquals(errors.length, 1, `exactly one ERROR line:\n${side.stderr}`);
  assertMatch(errors[0], error);
  assertEquals(leftovers(f.joiner.layout.datadir), [], "nothing in the joiner's datadir");
  assertNothingLeft(f, what);
}

/** The PATH a side runs with; `socatStarts` (when given) logs every socat started through it. */
interface Tools {
  path: string;
  socatStarts?: () => string;
}

/** A PATH directory with the tools a side needs, minus `without`. */
function pathWithout(without: string): (f: Fixture) => Promise<Tools> {
  const keep = ["socat", "rsync", "getent", "openssl", "deno", "sh"].filter((t) => t !== without);
  return async (f) => ({ path: await makeToolDir(`${f.root}/bin-no-${without}`, keep) });
}

/** A `socat` first in PATH that claims no OpenSSL and logs every other start. */
async function socatWithoutOpenssl(f: Fixture): Promise<Tools> {
  const log = `${f.root}/no-openssl-socat.log`;
  const real = toolPath("socat");
  const bin = await makeToolDir(`${f.root}/bin-socat-no-openssl`, [], {
    socat: `if [ "$1" = "-V" ]; then '${real}' -V | grep -v WITH_OPENSSL; exit 0; fi\n` +
      `echo "$*" >> '${log}'\nexec '${real}' "$@"`,
  });
  return {
    path: `${bin}:${Deno.env.get("PATH")}`,
    socatStarts: () => {
      try {
        return Deno.readTextFileSync(log);
      } catch {
        return "";
      }
    },
  };
}

/** The donor's address as mariadbd passes it (after the last `@` of the joiner's ready). */
function donorAddress(f: Fixture): string {
  return `127.0.0.1:${f.port}/rsync_tunnel_sst/1`;
}

/** Starts `side` alone with `path` as its PATH (the joiner without a donor, the donor alone). */
async function runAlone(f: Fixture, side: "joiner" | "donor", path: string): Promise<SideResult> {
  if (side === "donor") {
    return await driveDonor({
      donor: { ...f.donor, env: { PATH: path } },
      address: donorAddress(f),
      remoteAuth: SECRET,
      timeoutMs: 30_000,
    });
  }
  const r = await driveSst({
    address: f.address,
    joiner: { ...f.joiner, env: { PATH: path } },
    donor: f.donor,
    noDonor: true,
    timeoutMs: 30_000,
  });
  return r.joiner;
}

/** A tool missing or crippled in one side's PATH: that side must stop before it prints anything. */
interface MissingTool {
  /** What the case proves; the test is named `fail closed: <name>`. */
  name: string;
  /** The fault's name in the ledger. */
  what: string;
  side: "joiner" | "donor";
  tools: (f: Fixture) => Promise<Tools>;
  exit: number;
  /** The side's one ERROR line. */
  message: RegExp;
}

const MISSING_TOOLS: MissingTool[] = [
  {
    name: "a donor without socat in PATH refuses before flush tables with exit 2",
    what: "donor: socat missing",
    side: "donor",
    tools: pathWithout("socat"),
    exit: 2,
    message: /socat not found in PATH.*install it/,
  },
  {
    name:
      "socat built without OpenSSL makes the joiner refuse before ready (exit 2) and start no socat",
    what: "joiner: socat without OpenSSL",
    side: "joiner",
    tools: socatWithoutOpenssl,
    exit: 2,
    message:
      /socat \(version [\d.]+\) was built without OpenSSL support.*install a socat package built with OpenSSL/,
  },
  {
    name:
      "socat built without OpenSSL makes the donor refuse before flush tables (exit 2) and start no socat",
    what: "donor: socat without OpenSSL",
    side: "donor",
    tools: socatWithoutOpenssl,
    exit: 2,
    message: /was built without OpenSSL support/,
  },
  {
    name: "without rsync in PATH the joiner refuses before ready (exit 2)",
    what: "joiner: rsync missing",
    side: "joiner",
    tools: pathWithout("rsync"),
    exit: 2,
    message: /rsync not found in PATH.*install it/,
  },
  {
    name: "without rsync in PATH the donor refuses before flush tables (exit 2)",
    what: "donor: rsync missing",
    side: "donor",
    tools: pathWithout("rsync"),
    exit: 2,
    message: /rsync not found in PATH.*install it/,
  },
];

function runMissingTool(c: MissingTool): Promise<void> {
  return withFixture({}, async (f) => {
    const tools = await c.tools(f);
    const r = await runAlone(f, c.side, tools.path);
    assertStoppedFirst(f, r, c.exit, c.message, c.what);
    if (tools.socatStarts) {
      assertEquals(tools.socatStarts(), "", "no socat may be started for the SST");
    }
  });
}

for (const c of MISSING_TOOLS) Deno.test(`fail closed: ${c.name}`, () => runMissingTool(c));

const VERIFY_OFF_WARNING =
  /WSREP_SST: \[WARNING\] \[sst\] sockopt='verify=0' turns certificate verification OFF/;

async function sstWithVerifyOff(f: Fixture): Promise<SstResult> {
  for (const n of [f.joiner, f.donor]) await setSst(n, { sockopt: "verify=0" });
  return await driveSst({
    address: f.address,
    joiner: f.joiner,
    donor: f.donor,
    timeoutMs: 60_000,
  });
}

/** Both sides logged that verification is off. */
function assertWarnedOnBothSides(r: SstResult): void {
  assertMatch(r.joiner.stderr, VERIFY_OFF_WARNING);
  assertMatch(r.donor?.stderr, VERIFY_OFF_WARNING);
}

Deno.test("fail closed: sockopt=verify=0 makes both sides log a WARNING that verification is off, and leaves nothing behind", () =>
  withFixture({}, async (f) => {
    const r = await sstWithVerifyOff(f);
    const warned = VERIFY_OFF_WARNING.test(r.joiner.stderr) &&
      VERIFY_OFF_WARNING.test(r.donor?.stderr ?? "");
    record({
      kind: "accepted-input",
      name: "sockopt=verify=0 (works, with a WARNING on both sides)",
      ok: warned,
      detail: `joiner exit ${r.joiner.code}, donor exit ${r.donor?.code}`,
    });
    assertWarnedOnBothSides(r);
    assertNothingLeft(f, "sockopt=verify=0 SST");
  }));

Deno.test("fail closed: sockopt=verify=0 still transfers the data identically (with the WARNING on both sides)", () =>
  withFixture({}, async (f) => {
    const r = await sstWithVerifyOff(f);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertWarnedOnBothSides(r);
    assertEquals(
      diffDigests(
        await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
        await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
      ),
      [],
    );
    assertNothingLeft(f, "sockopt=verify=0 SST");
  }));

/** A plaintext server on `port` that greets like an rsync daemon and keeps what it got. */
function plaintextRsyncd(
  port: number,
): { received: () => Uint8Array[]; close: () => Promise<void> } {
  const server = Deno.listen({ hostname: "127.0.0.1", port });
  const received: number[][] = [];
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of server) {
      conns.push(conn);
      const got: number[] = [];
      received.push(got);
      (async () => {
        try {
          await conn.write(new TextEncoder().encode("@RSYNCD: 31.0\n"));
          const buf = new Uint8Array(4096);
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            got.push(...buf.subarray(0, n));
          }
        } catch { /* peer gave up */ }
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  return {
    received: () => received.map((b) => Uint8Array.from(b)),
    close: async () => {
      server.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving;
    },
  };
}

/**
 * Bytes of one connection's stream that are not TLS handshake or alert records (content types
 * 22 and 21, RFC 8446 §5.1): what a plaintext peer received beyond a TLS client's hello —
 * application data, an rsync greeting, the secret, file contents. A stream that does not parse
 * as TLS records from some point on counts from that point.
 */
function dataBytesBeyondTlsHandshake(stream: Uint8Array): number {
  let at = 0;
  while (at < stream.length) {
    if (stream.length - at < 5) return stream.length - at;
    const type = stream[at];
    const major = stream[at + 1];
    const len = (stream[at + 3] << 8) | stream[at + 4];
    if ((type !== 21 && type !== 22) || major !== 3 || at + 5 + len > stream.length) {
      return stream.length - at;
    }
    at += 5 + len;
  }
  return 0;
}

/** The donor's run against a plaintext daemon, and what each of that daemon's connections got. */
async function donorAgainstPlaintext(
  f: Fixture,
): Promise<{ r: SideResult; received: Uint8Array[] }> {
  const server = plaintextRsyncd(f.port);
  try {
    const r = await driveDonor({
      donor: f.donor,
      address: donorAddress(f),
      remoteAuth: SECRET,
      timeoutMs: 30_000,
    });
    return { r, received: server.received() };
  } finally {
    await server.close();
  }
}

/** The ledger's case for both tests of a donor against a plaintext daemon (one scenario). */
const PLAINTEXT_CASE = "donor against a plaintext rsync daemon (exit 71, not speaking TLS)";

/** The donor's one ERROR line for a joiner port answered in plaintext (exit 71). */
const NOT_TLS = /joiner 127\.0\.0\.1:\d+ is not speaking TLS.*rsync_tunnel SST method/;

/** rsync's own protocol error for a plaintext peer must not reach the user. */
function assertNoRsyncCode12(r: SideResult): void {
  assert(!/code 12/.test(r.stderr), "rsync's protocol error must not be what the user sees");
}

Deno.test("fail closed: a donor whose joiner port is answered by a plaintext rsync daemon stops before flush tables, sends nothing, leaves nothing", () =>
  withFixture({}, async (f) => {
    const { r, received } = await donorAgainstPlaintext(f);
    const data = received.reduce((n, b) => n + dataBytesBeyondTlsHandshake(b), 0);
    const total = received.reduce((n, b) => n + b.length, 0);
    recordCount(
      "plaintext-data",
      "donor against a plaintext rsync daemon: bytes beyond a TLS hello",
      data,
      `${received.length} connection(s), ${total} bytes received, ${data} not TLS handshake/alert`,
    );
    const ok = r.code === 71 && r.lines.length === 0 && errorLines(r).length === 1 &&
      NOT_TLS.test(errorLines(r)[0]);
    record({
      kind: "fault",
      name: PLAINTEXT_CASE,
      ok,
      detail: `exit ${r.code}: ${errorLines(r).join(" | ")}`.slice(0, 400),
    });
    assert(received.length > 0, "the donor must have reached the plaintext daemon");
    assertEquals(data, 0, "no byte beyond a TLS client hello may reach a plaintext daemon");
    assertEquals(r.code, 71, r.stderr);
    assertEquals(r.lines, [], "no flush tables: nothing may be copied to a plaintext peer");
    assertEquals(errorLines(r).length, 1, r.stderr);
    assertMatch(errorLines(r)[0], NOT_TLS);
    assertNoRsyncCode12(r);
    assertNothingLeft(f, "donor against a plaintext rsync daemon");
  }));

Deno.test("fail closed: a donor whose joiner port is answered by a plaintext rsync daemon says the peer is not speaking TLS (exit 71, not rsync's code 12)", () =>
  withFixture({}, async (f) => {
    const { r } = await donorAgainstPlaintext(f);
    assertStoppedFirst(
      f,
      r,
      71,
      NOT_TLS,
      PLAINTEXT_CASE,
      "fault",
    );
    assertNoRsyncCode12(r);
  }));
