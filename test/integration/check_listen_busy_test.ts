/**
 * `check --listen` on a port another process holds: named as the joiner names it (the pid and
 * command line holding the port), exit 16 (busy), instead of "socat exited (status 0)".
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { LAUNCHER } from "../support/sst_driver.ts";
import { makeFixture } from "../support/fixture.ts";

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
