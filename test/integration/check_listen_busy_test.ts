/**
 * `check --listen` on a port another process holds: named as the joiner names it (the pid and
 * command line holding the port), exit 16 (busy), instead of "socat exited (status 0)".
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { LAUNCHER } from "../../scripts/lib/sst_driver.ts";
import { freePort, makeFixture } from "../../scripts/lib/fixture.ts";
import { tcpListeners } from "../../src/tunnel/listen_check.ts";
import { waitFor } from "../../src/proc/wait.ts";

Deno.test("check --listen on a taken port names the process holding it and exits 16", async () => {
  const f = await makeFixture();
  const holder = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  try {
    const port = (holder.addr as Deno.NetAddr).port;
    const out = await new Deno.Command(LAUNCHER, {
      args: [
        "check",
        "--listen",
        "--port",
        String(port),
        "--once",
        "--timeout",
        "20",
        "--defaults-file",
        f.joiner.defaultsFile,
      ],
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 16, stderr);
    const errors = stderr.split("\n").filter((l) => l.includes("[ERROR]"));
    assertEquals(errors.length, 1, stderr);
    assertMatch(errors[0], new RegExp(`port ${port} is taken by pid ${Deno.pid} \\(`));
    assert(!/socat exited/.test(stderr), stderr);
  } finally {
    holder.close();
    await f.cleanup();
  }
});

Deno.test("check --listen prints a failed handshake's ERROR once", async () => {
  const f = await makeFixture();
  const port = freePort();
  try {
    const child = new Deno.Command(LAUNCHER, {
      args: [
        "check",
        "--listen",
        "--port",
        String(port),
        "--once",
        "--timeout",
        "20",
        "--defaults-file",
        f.joiner.defaultsFile,
      ],
      stderr: "piped",
    }).spawn();
    await waitFor(() => tcpListeners().some((l) => l.port === port) || undefined, {
      every: 50,
      limit: 10_000,
    });
    // A client that speaks no TLS: the handshake fails on the listener's side.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
    await new Response(conn.readable).text().catch(() => "");
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 71, stderr);
    const errors = stderr.split("\n").filter((l) => l.includes("[ERROR]"));
    assertEquals(errors.length, 1, stderr);
    assertMatch(errors[0], /check --listen: FAIL certificate of donor 127\.0\.0\.1:\d+/);
  } finally {
    await f.cleanup();
  }
});
