/**
 * A session that never proved the per-SST secret cannot end a running SST: a client with a
 * certificate the joiner trusts (here the donor's own) connects while the data moves, reads
 * the daemon's greeting, names the module and hangs up during the challenge. Our daemon logs
 * an `rsync error … (code 12)` for that session; the joiner must not take it for the donor's
 * failure (it did: exit 32), and the SST completes with the donor's data.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst } from "../../scripts/lib/sst_driver.ts";
import { fileSize, pollUntil, withFixture } from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { record } from "../../scripts/lib/ledger.ts";
import { Modules } from "../../src/transfer/rsyncd_config.ts";

const MB = 1024 * 1024;

/** The joiner's daemon log while it runs (in its private directory under its tmpdir). */
function daemonLog(tmpdir: string): string {
  for (const e of Deno.readDirSync(tmpdir)) {
    try {
      return Deno.readTextFileSync(`${tmpdir}/${e.name}/rsyncd.log`);
    } catch { /* not this one */ }
  }
  return "";
}

/** Connects with a trusted certificate, names the module, and hangs up at the challenge. */
async function hangUpAtChallenge(port: number, ca: string, cert: string, key: string) {
  const out = await new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-cert",
      cert,
      "-key",
      key,
      "-CAfile",
      ca,
      "-quiet",
      "-no_ign_eof",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(new TextEncoder().encode(`@RSYNCD: 31.0\n${Modules.datadir}\n`));
  await new Promise((r) => setTimeout(r, 1000));
  await w.close();
  const r = await out.output();
  return new TextDecoder().decode(r.stdout);
}

Deno.test("a TLS session with a trusted certificate but no secret, opened mid-transfer, leaves the SST running and complete", () =>
  withFixture({ bigTableBytes: 64 * MB, donorSstLines: ["bwlimit=6M"] }, async (f) => {
    const target = `${f.joiner.layout.datadir}/shop/orders.ibd`;
    let greeting = "";
    let logAfter = "";
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      timeoutMs: 90_000,
      onReady: () => {
        void pollUntil(() => fileSize(target) > 0, 30_000, 20).then(async (arriving) => {
          if (!arriving) return;
          greeting = await hangUpAtChallenge(
            f.port,
            f.ca.cert,
            f.donor.leaf.cert,
            f.donor.leaf.key,
          );
          await pollUntil(() => /\(code 12\)/.test(daemonLog(f.joiner.tmpdir)), 5000, 50);
          logAfter = daemonLog(f.joiner.tmpdir);
        });
        return Promise.resolve();
      },
    });
    const ok = r.joiner.code === 0 && r.donor?.code === 0;
    record({
      kind: "fault",
      name: "an unauthenticated TLS session ends with an rsync error mid-transfer",
      ok,
      detail: `joiner exit ${r.joiner.code}, donor exit ${r.donor?.code}`,
    });
    // The premises: the hostile session reached our daemon during the copy and it logged an
    // error for that session.
    assertMatch(greeting, /@RSYNCD:/);
    assertMatch(logAfter, /\] rsync to /);
    assertMatch(logAfter, /\[(\d+)\] connect from [\s\S]*\[\1\] rsync error: .*\(code 12\)/);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assert(!/broke off/.test(r.joiner.stderr), r.joiner.stderr);
    assertEquals(
      diffDigests(
        await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
        await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
      ),
      [],
    );
  }));
