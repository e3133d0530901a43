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
import { driveDonor, driveSst, type SideResult, type SstResult } from "../support/sst_driver.ts";
import {
  assertNothingLeft,
  type Fixture,
  leftovers,
  makeFixture,
  makeToolDir,
  setSst,
  toolPath,
} from "../support/fixture.ts";
import { diffDigests, isTransferredDatadirFile, treeDigest } from "../support/sample_datadir.ts";
import { record } from "../support/ledger.ts";

/** A valid-looking per-SST secret (what the joiner's `ready` carries before the `@`). */
const SECRET = "0123456789abcdef0123456789abcdef";

function errorLines(side: SideResult): string[] {
  return side.stderr.split("\n").filter((l) => l.startsWith("WSREP_SST: [ERROR]"));
}

function assertClean(f: Fixture, what: string): void {
  assertNothingLeft(f, what);
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
): void {
  const errors = errorLines(side);
  const ok = side.code === code && side.lines.length === 0 && errors.length === 1 &&
    error.test(errors[0]);
  record({
    kind: "fault",
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
  assertClean(f, what);
}

/** A PATH directory with the tools a side needs, minus `without`. */
async function pathWithout(f: Fixture, name: string, without: string): Promise<string> {
  const keep = ["socat", "rsync", "getent", "openssl", "deno", "sh"].filter((t) => t !== without);
  return await makeToolDir(`${f.root}/${name}`, keep);
}

/** The donor's address as mariadbd passes it (after the last `@` of the joiner's ready). */
function donorAddress(f: Fixture): string {
  return `127.0.0.1:${f.port}/rsync_tunnel_sst/1`;
}

Deno.test("fail closed: a donor without socat in PATH refuses before flush tables with exit 2", async () => {
  const f = await makeFixture();
  try {
    const bin = await pathWithout(f, "bin-no-socat", "socat");
    const r = await driveDonor({
      donor: { ...f.donor, env: { PATH: bin } },
      address: donorAddress(f),
      remoteAuth: SECRET,
      timeoutMs: 30_000,
    });
    assertStoppedFirst(
      f,
      r,
      2,
      /socat not found in PATH.*install it/,
      "donor: socat missing",
    );
  } finally {
    await f.cleanup();
  }
});

/** A `socat` first in PATH that claims no OpenSSL and logs every other start. */
async function socatWithoutOpenssl(f: Fixture): Promise<{ path: string; starts: () => string }> {
  const log = `${f.root}/no-openssl-socat.log`;
  const real = toolPath("socat");
  const bin = await makeToolDir(`${f.root}/bin-socat-no-openssl`, [], {
    socat: `if [ "$1" = "-V" ]; then '${real}' -V | grep -v WITH_OPENSSL; exit 0; fi\n` +
      `echo "$*" >> '${log}'\nexec '${real}' "$@"`,
  });
  return {
    path: `${bin}:${Deno.env.get("PATH")}`,
    starts: () => {
      try {
        return Deno.readTextFileSync(log);
      } catch {
        return "";
      }
    },
  };
}

Deno.test("fail closed: socat built without OpenSSL makes the joiner refuse before ready (exit 2) and start no socat", async () => {
  const f = await makeFixture();
  try {
    const fake = await socatWithoutOpenssl(f);
    const r = await driveSst({
      address: f.address,
      joiner: { ...f.joiner, env: { PATH: fake.path } },
      donor: f.donor,
      noDonor: true,
      timeoutMs: 30_000,
    });
    assertStoppedFirst(
      f,
      r.joiner,
      2,
      /socat \(version [\d.]+\) was built without OpenSSL support.*install a socat package built with OpenSSL/,
      "joiner: socat without OpenSSL",
    );
    assertEquals(fake.starts(), "", "no socat may be started for the SST");
  } finally {
    await f.cleanup();
  }
});

Deno.test("fail closed: socat built without OpenSSL makes the donor refuse before flush tables (exit 2) and start no socat", async () => {
  const f = await makeFixture();
  try {
    const fake = await socatWithoutOpenssl(f);
    const r = await driveDonor({
      donor: { ...f.donor, env: { PATH: fake.path } },
      address: donorAddress(f),
      remoteAuth: SECRET,
      timeoutMs: 30_000,
    });
    assertStoppedFirst(
      f,
      r,
      2,
      /was built without OpenSSL support/,
      "donor: socat without OpenSSL",
    );
    assertEquals(fake.starts(), "", "no socat may be started for the SST");
  } finally {
    await f.cleanup();
  }
});

Deno.test("fail closed: without rsync in PATH the joiner refuses before ready and the donor before flush tables (exit 2)", async () => {
  const f = await makeFixture();
  try {
    const bin = await pathWithout(f, "bin-no-rsync", "rsync");
    const j = await driveSst({
      address: f.address,
      joiner: { ...f.joiner, env: { PATH: bin } },
      donor: f.donor,
      noDonor: true,
      timeoutMs: 30_000,
    });
    assertStoppedFirst(
      f,
      j.joiner,
      2,
      /rsync not found in PATH.*install it/,
      "joiner: rsync missing",
    );
    const d = await driveDonor({
      donor: { ...f.donor, env: { PATH: bin } },
      address: donorAddress(f),
      remoteAuth: SECRET,
      timeoutMs: 30_000,
    });
    assertStoppedFirst(f, d, 2, /rsync not found in PATH.*install it/, "donor: rsync missing");
  } finally {
    await f.cleanup();
  }
});

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

Deno.test("fail closed: sockopt=verify=0 makes both sides log a WARNING that verification is off, and leaves nothing behind", async () => {
  const f = await makeFixture();
  try {
    const r = await sstWithVerifyOff(f);
    const warned = VERIFY_OFF_WARNING.test(r.joiner.stderr) &&
      VERIFY_OFF_WARNING.test(r.donor?.stderr ?? "");
    record({
      kind: "fault",
      name: "sockopt=verify=0 warns on both sides",
      ok: warned,
      detail: `joiner exit ${r.joiner.code}, donor exit ${r.donor?.code}`,
    });
    assertMatch(r.joiner.stderr, VERIFY_OFF_WARNING);
    assertMatch(r.donor?.stderr, VERIFY_OFF_WARNING);
    assertClean(f, "sockopt=verify=0 SST");
  } finally {
    await f.cleanup();
  }
});

Deno.test({
  name:
    "fail closed: sockopt=verify=0 still transfers the data identically (with the WARNING on both sides)",
  fn: async () => {
    const f = await makeFixture();
    try {
      const r = await sstWithVerifyOff(f);
      assertEquals(r.joiner.code, 0, r.joiner.stderr);
      assertEquals(r.donor?.code, 0, r.donor?.stderr);
      assertMatch(r.joiner.stderr, VERIFY_OFF_WARNING);
      assertMatch(r.donor?.stderr, VERIFY_OFF_WARNING);
      assertEquals(
        diffDigests(
          await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
          await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
        ),
        [],
      );
      assertClean(f, "sockopt=verify=0 SST");
    } finally {
      await f.cleanup();
    }
  },
});

/** A plaintext server on `port` that greets like an rsync daemon and records what it got. */
function plaintextRsyncd(port: number): { received: () => number; close: () => Promise<void> } {
  const server = Deno.listen({ hostname: "127.0.0.1", port });
  let received = 0;
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of server) {
      conns.push(conn);
      (async () => {
        try {
          await conn.write(new TextEncoder().encode("@RSYNCD: 31.0\n"));
          const buf = new Uint8Array(4096);
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            received += n;
          }
        } catch { /* peer gave up */ }
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  return {
    received: () => received,
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

async function donorAgainstPlaintext(f: Fixture): Promise<SideResult> {
  const server = plaintextRsyncd(f.port);
  try {
    return await driveDonor({
      donor: f.donor,
      address: donorAddress(f),
      remoteAuth: SECRET,
      timeoutMs: 30_000,
    });
  } finally {
    await server.close();
  }
}

Deno.test("fail closed: a donor whose joiner port is answered by a plaintext rsync daemon stops before flush tables, sends nothing, leaves nothing", async () => {
  const f = await makeFixture();
  try {
    const r = await donorAgainstPlaintext(f);
    const ok = r.code !== 0 && r.lines.length === 0 && errorLines(r).length === 1;
    record({
      kind: "fault",
      name: "donor against a plaintext rsync daemon (refused before flush tables)",
      ok,
      detail: `exit ${r.code}: ${errorLines(r).join(" | ")}`.slice(0, 400),
    });
    assert(r.code !== 0, "the donor must fail");
    assertEquals(r.lines, [], "no flush tables: nothing may be copied to a plaintext peer");
    assertEquals(errorLines(r).length, 1, r.stderr);
    assert(!/code 12/.test(r.stderr), "rsync's protocol error must not be what the user sees");
    assertClean(f, "donor against a plaintext rsync daemon");
  } finally {
    await f.cleanup();
  }
});

Deno.test({
  name:
    "fail closed: a donor whose joiner port is answered by a plaintext rsync daemon says the peer is not speaking TLS (exit 71, not rsync's code 12)",
  fn: async () => {
    const f = await makeFixture();
    try {
      const r = await donorAgainstPlaintext(f);
      assertStoppedFirst(
        f,
        r,
        71,
        /joiner 127\.0\.0\.1:\d+ is not speaking TLS.*rsync_tunnel SST method/,
        "donor against a plaintext rsync daemon (exit 71, not speaking TLS)",
      );
      assert(!/code 12/.test(r.stderr), "rsync's protocol error must not be what the user sees");
    } finally {
      await f.cleanup();
    }
  },
});
