/**
 * The donor's two channels for the joiner's secret: `WSREP_SST_OPT_REMOTE_AUTH` (10.x) and
 * MariaDB 11.8's `key=value` lines on stdin, read only from a pipe, bounded in time and size,
 * every value redacted from the log.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  donorSecret,
  readStdinCredentials,
  type StdinKind,
  type StdinSource,
} from "../../src/sst/donor_credentials.ts";
import { redact } from "../../src/core/log.ts";
import { SstError } from "../../src/core/errors.ts";

const SECRET = "0123456789abcdef0123456789abcdef";
const enc = new TextEncoder();

/** A stdin delivering `chunks` one read at a time, then EOF (or nothing ever, with `hang`). */
function source(
  chunks: (string | Uint8Array)[],
  o: { kind?: StdinKind; hang?: boolean; endless?: boolean } = {},
): StdinSource & { reads: () => number } {
  let reads = 0;
  const queue = chunks.map((c) => typeof c === "string" ? enc.encode(c) : c);
  return {
    kind: () => o.kind ?? "pipe",
    reads: () => reads,
    read(buf: Uint8Array): Promise<number | null> {
      reads++;
      if (o.endless) {
        buf.fill(0x61);
        return Promise.resolve(buf.length);
      }
      const next = queue.shift();
      if (next === undefined) return o.hang ? new Promise(() => {}) : Promise.resolve(null);
      buf.set(next);
      return Promise.resolve(next.length);
    },
  };
}

function lines118(secret: string, sqlPassword: string): string {
  return `sst_user=wsrep.sst.261128_151500_node2\nsst_password=${sqlPassword}\n` +
    `sst_remote_user=${secret}\nsst_remote_password=\n`;
}

async function fails(p: Promise<unknown>): Promise<SstError> {
  const e = await p.then(() => null, (e) => e);
  assert(e instanceof SstError, `expected an SstError, got ${e}`);
  return e;
}

Deno.test("11.8 stdin: four key=value lines then EOF give the secret, and every value is redacted", async () => {
  const pw = "Zq8sPw4mTt1uVx9yAb2cDe3fGh5iJk6L";
  const s = source([lines118(SECRET, pw)]);
  assertEquals(await donorSecret(undefined, s), SECRET);
  assertEquals(
    redact(`x ${pw} ${SECRET} wsrep.sst.261128_151500_node2`),
    "x <redacted> <redacted> <redacted>",
  );
});

Deno.test("11.8 stdin: lines split across reads, CRLF endings, and a user:password remote auth", async () => {
  const text = lines118("sstuser", `${SECRET.slice(0, 16)}`).replace(/\n/g, "\r\n");
  const r = await readStdinCredentials(
    source([text.slice(0, 5), text.slice(5, 40), text.slice(40)]),
  );
  assert(r.status === "lines");
  assertEquals(r.values.get("sst_remote_user"), "sstuser");
  const stock = `sst_remote_user=node2\nsst_remote_password=${SECRET}\n`;
  assertEquals(await donorSecret(undefined, source([stock])), SECRET);
});

Deno.test("10.x environment: REMOTE_AUTH alone gives the secret; stdin that is not a pipe is never read", async () => {
  for (const kind of ["terminal", "other"] as const) {
    const s = source([lines118("f".repeat(32), "pw-not-read-1234")], { kind });
    assertEquals(await donorSecret(SECRET, s), SECRET);
    assertEquals(s.reads(), 0, `${kind} stdin must not be read`);
  }
  assertEquals(await donorSecret(`node1:${SECRET}`, undefined), SECRET);
  // 10.11 through a pipe that carries nothing (closed at once).
  assertEquals(await donorSecret(SECRET, source([])), SECRET);
});

Deno.test("both channels: equal secrets are accepted, different ones fail with 71 naming both channels, not the values", async () => {
  assertEquals(await donorSecret(SECRET, source([lines118(SECRET, "pw-aaaaaaaaaaaa")])), SECRET);
  const other = "fedcba9876543210fedcba9876543210";
  const e = await fails(donorSecret(SECRET, source([lines118(other, "pw-bbbbbbbbbbbb")])));
  assertEquals(e.exitCode, 71);
  assertMatch(
    e.message,
    /WSREP_SST_OPT_REMOTE_AUTH differs from sst_remote_user on the donor's stdin/,
  );
  assert(!e.message.includes(SECRET) && !e.message.includes(other), e.message);
});

Deno.test("no secret on either channel fails with 71 saying what each channel held", async () => {
  const none = await fails(donorSecret(undefined, source([], { kind: "other" })));
  assertEquals(none.exitCode, 71);
  assertMatch(
    none.message,
    /WSREP_SST_OPT_REMOTE_AUTH is unset and the donor's stdin is not a pipe/,
  );
  const noUser = await fails(donorSecret(undefined, source(["sst_user=x\nsst_password=y\n"])));
  assertMatch(noUser.message, /has no sst_remote_user line/);
  const bad = await fails(donorSecret(undefined, source(["sst_remote_user=not-hex\n"])));
  assertMatch(bad.message, /no valid secret in sst_remote_user on the donor's stdin/);
  assert(!bad.message.includes("not-hex"));
});

Deno.test("malformed stdin lines make stdin ignored (the environment still works), values still redacted", async () => {
  for (
    const [text, why] of [
      ["sst_user=a\nthis is not a pair\n", /line 2 is not a key=value line/],
      ["=value-without-key\n", /line 1 is not a key=value line/],
      ["sst_remote_user=a\nsst_remote_user=b\n", /key sst_remote_user appears twice/],
      ["bad key=v\n", /line 1 is not a key=value line/],
    ] as const
  ) {
    const r = await readStdinCredentials(source([text]));
    assert(r.status === "ignored", `${JSON.stringify(text)} → ${r.status}`);
    assertMatch(r.why, why);
  }
  const leaked = "pw-in-malformed-input-5678";
  await readStdinCredentials(source([`sst_password=${leaked}\ngarbage\n`]));
  assertEquals(redact(leaked), "<redacted>");
  assertEquals(
    await donorSecret(SECRET, source(["garbage without equals\n"])),
    SECRET,
    "a malformed stdin does not stop a 10.x-style request",
  );
});

Deno.test("oversized stdin is ignored after maxBytes, without reading on forever", async () => {
  const s = source([], { endless: true });
  const r = await readStdinCredentials(s, { maxBytes: 64 * 1024 });
  assert(r.status === "ignored");
  assertMatch(r.why, /more than 65536 bytes/);
  assert(s.reads() <= 64 * 1024 / 8192 + 1, `${s.reads()} reads`);
});

Deno.test("a pipe that never closes: reading ends after the wait, using the complete lines sent", async () => {
  const started = Date.now();
  const silent = await readStdinCredentials(source([], { hang: true }), { waitMs: 300 });
  const took = Date.now() - started;
  assertEquals(silent.status, "empty");
  // At least the wait; the upper bound only says reading ends (generous for a loaded host).
  assert(took >= 280 && took < 20_000, `took ${took} ms`);
  // Two complete lines and half a third: the half line is not used.
  const partial = await readStdinCredentials(
    source([`sst_remote_user=${SECRET}\nsst_remote_password=\nsst_us`], { hang: true }),
    { waitMs: 300 },
  );
  assert(partial.status === "lines");
  assertEquals(partial.complete, false);
  assertEquals([...partial.values.keys()], ["sst_remote_user", "sst_remote_password"]);
  assertEquals(
    await donorSecret(undefined, source([`sst_remote_user=${SECRET}\n`], { hang: true }), {
      waitMs: 300,
    }),
    SECRET,
  );
  // All four keys arrived: no need to wait for EOF.
  const t0 = Date.now();
  const all = await readStdinCredentials(
    source([lines118(SECRET, "pw-cccccccccccc")], {
      hang: true,
    }),
    { waitMs: 60_000 },
  );
  assert(all.status === "lines" && all.complete);
  // Waiting for the pipe would take the full 60 s; half of it is a generous bound.
  const tookAll = Date.now() - t0;
  assert(tookAll < 30_000, `returned as soon as the four lines were there (took ${tookAll} ms)`);
});
