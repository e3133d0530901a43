/**
 * Unit tests for the stdout protocol writer (src/sst/protocol.ts, docs/sst-protocol.md §2.1), the stderr log
 * format and redaction (src/core/log.ts, §2.5), the error classes' exit codes
 * (src/core/errors.ts, §6) and the cleanup scope (src/sst/scope.ts).
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { MAX_LINE, ProtocolWriter } from "../../src/sst/protocol.ts";
import { addSecret, formatLine, redact } from "../../src/core/log.ts";
import { newSecret } from "../../src/sst/secret.ts";
import {
  AbortedError,
  BusyError,
  ConfigError,
  ExitCode,
  MissingToolError,
  SstError,
  TimeoutError,
  TransferError,
} from "../../src/core/errors.ts";
import { Scope } from "../../src/sst/scope.ts";

// ---------------------------------------------------------------------------------------------
// protocol

/** A sink that records every call (one entry per write). */
function recorder(): { sink: (b: Uint8Array) => void; calls: string[] } {
  const calls: string[] = [];
  return { sink: (b) => calls.push(new TextDecoder().decode(b)), calls };
}

Deno.test("protocol: each line is one sink call, newline-terminated", () => {
  const r = recorder();
  const w = new ProtocolWriter("donor", r.sink);
  w.write("flush tables");
  w.write("continue");
  w.final("done f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc:13 0");
  assertEquals(r.calls, [
    "flush tables\n",
    "continue\n",
    "done f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc:13 0\n",
  ]);
  assertEquals(w.lines, [
    "flush tables",
    "continue",
    "done f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc:13 0",
  ]);
});

Deno.test("protocol: limits are donor 127 and joiner 511 characters", () => {
  assertEquals(MAX_LINE, { donor: 127, joiner: 511 });
});

Deno.test("protocol: donor accepts a 127-char line and rejects 128 without writing", async () => {
  const r = recorder();
  const w = new ProtocolWriter("donor", r.sink);
  w.write("x".repeat(127));
  await assertRejects(() => w.write("x".repeat(128)), Error, /invalid donor protocol line/);
  assertEquals(r.calls, ["x".repeat(127) + "\n"]);
});

Deno.test("protocol: joiner accepts a 511-char line and rejects 512 without writing", async () => {
  const r = recorder();
  const w = new ProtocolWriter("joiner", r.sink);
  w.write("ready " + "a".repeat(505));
  await assertRejects(() => w.write("ready " + "a".repeat(506)), Error, /invalid joiner/);
  assertEquals(r.calls.length, 1);
  assertEquals(r.calls[0].length, 512);
});

Deno.test("protocol: a line containing CR or LF is rejected without writing", async () => {
  const r = recorder();
  const w = new ProtocolWriter("joiner", r.sink);
  await assertRejects(() => w.write("ready x\nready y"), Error, /invalid joiner/);
  await assertRejects(() => w.write("ready x\r"), Error, /invalid joiner/);
  assertEquals(r.calls, []);
  assertEquals(w.lines, []);
});

Deno.test("protocol: nothing may be written after the final line", async () => {
  const r = recorder();
  const w = new ProtocolWriter("joiner", r.sink);
  w.write("ready 10.0.0.1:4444/rsync_tunnel_sst/1");
  assertEquals(w.done, false);
  w.final("f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc:13 0");
  assertEquals(w.done, true);
  await assertRejects(() => w.write("total 1"), Error, /after the final line/);
  await assertRejects(() => w.final("again"), Error, /after the final line/);
  assertEquals(r.calls.length, 2);
});

Deno.test("protocol: a rejected final line does not close the writer", async () => {
  const w = new ProtocolWriter("donor", recorder().sink);
  await assertRejects(() => w.final("done " + "x".repeat(200)), Error, /invalid donor/);
  assertEquals(w.done, false);
});

Deno.test({
  name: "protocol: the donor limit counts encoded bytes, not characters",
  fn: async () => {
    const r = recorder();
    const w = new ProtocolWriter("donor", r.sink);
    await assertRejects(() => w.write("é".repeat(100)), Error, /invalid donor/);
    assertEquals(r.calls, []);
  },
});

// ---------------------------------------------------------------------------------------------
// log

Deno.test("log: formatLine shape is 'WSREP_SST: [LEVEL] msg (YYYYMMDD HH:MM:SS.mmm)'", () => {
  const at = new Date(2024, 0, 2, 3, 4, 5, 6); // local time, as the line is
  assertEquals(
    formatLine("INFO", "rsync SST started on joiner", at),
    "WSREP_SST: [INFO] rsync SST started on joiner (20240102 03:04:05.006)",
  );
  assertEquals(
    formatLine("WARNING", "w", new Date(2025, 11, 31, 23, 59, 58, 999)),
    "WSREP_SST: [WARNING] w (20251231 23:59:58.999)",
  );
  assertEquals(formatLine("ERROR", "e", at), "WSREP_SST: [ERROR] e (20240102 03:04:05.006)");
});

Deno.test("log: formatLine without a date uses the current time in the same shape", () => {
  assertMatch(
    formatLine("DEBUG", "msg"),
    /^WSREP_SST: \[DEBUG\] msg \(\d{8} \d{2}:\d{2}:\d{2}\.\d{3}\)$/,
  );
});

Deno.test("log: CR and LF in a message are flattened to one line", () => {
  const line = formatLine("ERROR", "first\r\nsecond\nthird\rfourth\n", new Date(2024, 0, 1));
  assertEquals(
    line,
    "WSREP_SST: [ERROR] first ⏎ second ⏎ third ⏎ fourth ⏎ (20240101 00:00:00.000)",
  );
  assert(!/[\r\n]/.test(line));
});

Deno.test("log: values registered with addSecret are redacted", () => {
  const secret = "c0ffee" + crypto.randomUUID().replaceAll("-", "");
  addSecret(secret);
  const line = formatLine(
    "INFO",
    `ready ${secret}@10.0.0.1:4444 (${secret})`,
    new Date(2024, 0, 1),
  );
  assertEquals(
    line,
    "WSREP_SST: [INFO] ready <redacted>@10.0.0.1:4444 (<redacted>) (20240101 00:00:00.000)",
  );
  assertEquals(redact(`x${secret}y`), "x<redacted>y");
});

Deno.test("log: values shorter than 4 characters are not registered (would redact everything)", () => {
  addSecret("zq");
  assertEquals(redact("zq is not secret"), "zq is not secret");
});

Deno.test("log: newSecret returns 32 hex digits and registers it for redaction", () => {
  const s = newSecret();
  assertMatch(s, /^[0-9a-f]{32}$/);
  assert(newSecret() !== s);
  assertEquals(redact(`secret ${s}`), "secret <redacted>");
});

// ---------------------------------------------------------------------------------------------
// errors

Deno.test("errors: each class carries its exit code", () => {
  const cases: [SstError, number][] = [
    [new ConfigError("c"), 22],
    [new MissingToolError("m"), 2],
    [new TransferError("t"), 32],
    [new TransferError("t", ExitCode.protocol), 71],
    [new TimeoutError("o"), 110],
    [new BusyError("b", ExitCode.already), 114],
    [new BusyError("b", ExitCode.busy), 16],
    [new AbortedError(ExitCode.interrupted, "a"), 3],
  ];
  for (const [e, code] of cases) {
    assertEquals(e.exitCode, code, e.name);
    assert(e instanceof SstError);
    assert(e instanceof Error);
  }
});

Deno.test("errors: name is the class name and the message and cause are kept", () => {
  const cause = new Error("root");
  const e = new ConfigError("bad [sst] tca", { cause });
  assertEquals(e.name, "ConfigError");
  assertEquals(e.message, "bad [sst] tca");
  assertEquals(e.cause, cause);
  assertEquals(new TimeoutError("x").name, "TimeoutError");
  assertEquals(new BusyError("x", 16).name, "BusyError");
});

Deno.test("errors: no exit code is one mariadbd remaps or Galera treats specially", () => {
  // 126/127/143 are translated by mariadbd (docs/sst-protocol.md §6); 125 means "canceled" to Galera; 0 = ok.
  const codes = Object.entries(ExitCode).filter(([k]) => k !== "ok").map(([, v]) => v as number);
  for (const forbidden of [0, 125, 126, 127, 143]) {
    assert(!codes.includes(forbidden), `exit code ${forbidden} used`);
  }
  assert(codes.every((c) => c > 0 && c < 256));
  assertEquals(ExitCode.ok, 0);
});

// ---------------------------------------------------------------------------------------------
// scope

Deno.test("scope: cleanups run last-registered first", async () => {
  const order: string[] = [];
  const s = new Scope();
  s.defer("a", () => void order.push("a"));
  s.defer("b", () => void order.push("b"));
  s.defer("c", () => void order.push("c"));
  assertEquals(await s.close(), []);
  assertEquals(order, ["c", "b", "a"]);
});

Deno.test("scope: a failing step is collected and the earlier-registered steps still run", async () => {
  const order: string[] = [];
  const boom = new Error("boom");
  const s = new Scope();
  s.defer("a", () => void order.push("a"));
  s.defer("b", () => {
    order.push("b");
    throw boom;
  });
  s.defer("c", async () => {
    await Promise.resolve();
    order.push("c");
    throw new Error("async boom");
  });
  const failures = await s.close();
  assertEquals(order, ["c", "b", "a"]);
  assertEquals(failures.map((f) => f.label), ["c", "b"]);
  assertEquals(failures[1].error, boom);
});

Deno.test("scope: async steps are awaited one after the other", async () => {
  const order: string[] = [];
  const s = new Scope();
  s.defer("first registered", () => void order.push("first registered"));
  s.defer("slow", async () => {
    await new Promise((r) => setTimeout(r, 20));
    order.push("slow done");
  });
  await s.close();
  assertEquals(order, ["slow done", "first registered"]);
});

Deno.test("scope: close twice is a no-op the second time; defer after close throws", async () => {
  let runs = 0;
  const s = new Scope();
  s.defer("count", () => void runs++);
  s.defer("fail", () => {
    throw new Error("x");
  });
  assertEquals((await s.close()).length, 1);
  assertEquals(await s.close(), []);
  assertEquals(runs, 1);
  await assertRejects(() => s.defer("late", () => {}), Error, /already closed/);
});
