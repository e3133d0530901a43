/**
 * `check --peer` / `check --listen` across network namespaces (two hosts addressed by name,
 * namespaces prefixed `chk-`), with certificates made by `certs`: a good pair passes on both
 * ends; a wrong CA, a wrong name, an expired certificate and a plaintext peer fail on the end
 * that sees it, each with one FAIL line naming the fix and the exit code an SST would have.
 * Needs root and `deno task build`.
 */
import { NetnsLab, probeNetns } from "../../scripts/lib/netns.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { LAUNCHER } from "../../scripts/lib/launcher.ts";
import { type Child, denoAdapter, sleep, stop } from "../../src/proc/process.ts";
import { makeLeaf } from "../../scripts/lib/pki.ts";

const skip = await probeNetns();

interface Running {
  child: Child;
  text: () => string;
  done: Promise<{ code: number; stderr: string }>;
}

function start(lab: NetnsLab, host: string, cmd: string, args: string[]): Running {
  const [c, ...pre] = lab.wrap(host);
  const child = denoAdapter.spawn({
    cmd: c,
    args: [...pre, cmd, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    group: true,
  });
  let text = "";
  const read = (async () => {
    for await (const chunk of child.stderr!.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  const done = (async () => {
    const st = await child.status;
    await read;
    return { code: st.code, stderr: text };
  })();
  return { child, text: () => text, done };
}

async function waitFor(r: Running, re: RegExp, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!re.test(r.text())) {
    if (Date.now() > deadline || r.child.exited) throw new Error(`${what}: ${r.text()}`);
    await sleep(100);
  }
}

function listen(lab: NetnsLab, cnf: string): Running {
  return start(lab, "node2", LAUNCHER, [
    "check",
    "--listen",
    "--once",
    "--timeout",
    "40",
    "--defaults-file",
    cnf,
  ]);
}

function peer(
  lab: NetnsLab,
  cnf: string,
  target = "node2",
): Promise<{ code: number; stderr: string }> {
  return start(lab, "node1", LAUNCHER, [
    "check",
    "--peer",
    target,
    "--timeout",
    "15",
    "--defaults-file",
    cnf,
  ]).done;
}

function lines(text: string, kind: "OK" | "FAIL"): string[] {
  return text.split("\n").filter((l) => l.includes(`: ${kind} `));
}

Deno.test({
  name:
    "check --peer and --listen across namespaces: pass with certs output, fail on wrong CA, wrong name, expired, plaintext",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "chk-pki-" });
    const lab = await NetnsLab.create(["node1", "node2"], { prefix: "chk-", subnet: "10.78.0" });
    try {
      const mk = async (name: string, ca: string, extra: string[] = []) => {
        const out = await new Deno.Command(LAUNCHER, {
          args: [
            "certs",
            "node",
            name,
            "--ca",
            `${dir}/${ca}`,
            "--out",
            `${dir}/${name}-${ca}`,
            ...extra,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
        const cnf = `${dir}/${name}-${ca}.cnf`;
        await Deno.writeTextFile(cnf, new TextDecoder().decode(out.stdout)); // the printed lines, unchanged
        return cnf;
      };
      for (const ca of ["caA", "caB"]) {
        const out = await new Deno.Command(LAUNCHER, {
          args: ["certs", "ca", "--out", `${dir}/${ca}`],
          stderr: "piped",
        }).output();
        assertEquals(out.code, 0);
      }
      const n1 = await mk("node1", "caA", ["--ip", "10.78.0.11"]);
      const n2 = await mk("node2", "caA", ["--ip", "10.78.0.12"]);

      // 1. A good pair: both directions OK on both ends, exit 0.
      let l = listen(lab, n2);
      await waitFor(l, /listening on port 4444/, "listener did not start");
      let p = await peer(lab, n1);
      let lr = await l.done;
      assertEquals(p.code, 0, p.stderr);
      assertEquals(lr.code, 0, lr.stderr);
      assertEquals(lines(p.stderr, "OK").length, 2, p.stderr);
      assertMatch(
        p.stderr,
        /OK certificate of joiner node2:4444: CN=node2; subjectAltName DNS:node2, IP:10\.78\.0\.12; chain CN=node2 ← CN=.*name 'node2' checked/,
      );
      assertMatch(
        p.stderr,
        /OK our certificate, as joiner node2:4444 verified it: it accepted our certificate CN=node1/,
      );
      assertEquals(lines(lr.stderr, "OK").length, 2, lr.stderr);
      assertMatch(lr.stderr, /OK certificate of donor 10\.78\.0\.11:\d+: CN=node1/);

      // Addressed by IP: the certificate's subjectAltName IP entry is checked first, as a donor
      // does (the resolver's name only when the certificate carries no matching IP).
      l = listen(lab, n2);
      await waitFor(l, /listening on port 4444/, "listener did not start");
      p = await peer(lab, n1, "10.78.0.12:4444");
      lr = await l.done;
      assertEquals(p.code, 0, p.stderr);
      assertMatch(p.stderr, /name '10\.78\.0\.12' checked/);

      // 2. Wrong CA: node2's certificate comes from another CA (which node2 trusts).
      const n2b = await mk("node2", "caB", ["--ip", "10.78.0.12"]);
      l = listen(lab, n2b);
      await waitFor(l, /listening on port 4444/, "listener did not start");
      p = await peer(lab, n1);
      lr = await l.done;
      assertEquals(p.code, 129, p.stderr);
      assertEquals(lines(p.stderr, "FAIL").length, 1, p.stderr);
      assertMatch(
        lines(p.stderr, "FAIL")[0],
        /certificate of joiner node2:4444: .*not issued by a CA in our \[sst\] tca/,
      );
      assertEquals(lr.code, 129, lr.stderr);
      assertMatch(
        lines(lr.stderr, "FAIL")[0],
        /our certificate, as donor 10\.78\.0\.11:\d+ verified it: .*does not trust the CA/,
      );

      // 3. Wrong name: node2 presents a certificate for another host.
      const other = await mk("db7", "caA", ["--ip", "10.99.0.7"]);
      l = listen(lab, other);
      await waitFor(l, /listening on port 4444/, "listener did not start");
      p = await peer(lab, n1);
      lr = await l.done;
      assertEquals(p.code, 129, p.stderr);
      assertMatch(
        lines(p.stderr, "FAIL")[0],
        /certificate of joiner node2:4444: .*is not issued for 'node2'.*reissue/,
      );
      assertEquals(lr.code, 129, lr.stderr);
      assertMatch(
        lines(lr.stderr, "FAIL")[0],
        /rejected our certificate CN=db7.*not issued for 'node2'/,
      );

      // 4. Expired: a peer presenting an expired certificate of our CA, each way round.
      const caA = { name: "caA", cert: `${dir}/caA/ca.crt`, key: `${dir}/caA/ca.key` };
      const old = await makeLeaf(dir, caA, "expired", {
        cn: "node2",
        sans: ["DNS:node2", "DNS:node1"],
        startDate: "20200101000000Z",
        endDate: "20200201000000Z",
      });
      const tlsOld = `cert=${old.cert},key=${old.key},cafile=${dir}/caA/ca.crt`;
      const raw = start(lab, "node2", "socat", [
        `OPENSSL-LISTEN:4444,reuseaddr,verify=1,${tlsOld}`,
        "EXEC:/bin/echo hi",
      ]);
      await sleep(500);
      p = await peer(lab, n1);
      assertEquals(p.code, 129, p.stderr);
      assertMatch(
        lines(p.stderr, "FAIL")[0],
        /certificate of joiner node2:4444: .*has expired.*renew/,
      );
      await stop(raw.child, 1000);
      l = listen(lab, n2);
      await waitFor(l, /listening on port 4444/, "listener did not start");
      const rawClient = start(lab, "node1", "socat", [
        "-T",
        "5",
        "-u",
        `OPENSSL:node2:4444,verify=1,commonname=node2,${tlsOld}`,
        "STDOUT",
      ]);
      lr = await l.done;
      await rawClient.done;
      assertEquals(lr.code, 129, lr.stderr);
      assertMatch(
        lines(lr.stderr, "FAIL")[0],
        /certificate of donor 10\.78\.0\.11:\d+: .*(rejected|expired)/,
      );

      // 5. Plaintext: a plaintext service at the peer's port; a plaintext client at ours.
      const plain = start(lab, "node2", "socat", [
        "TCP-LISTEN:4444,reuseaddr",
        "EXEC:/bin/echo plaintext-service",
      ]);
      await sleep(500);
      p = await peer(lab, n1);
      await stop(plain.child, 1000);
      assertEquals(p.code, 71, p.stderr);
      assertMatch(lines(p.stderr, "FAIL")[0], /joiner node2:4444 is not speaking TLS/);
      l = listen(lab, n2);
      await waitFor(l, /listening on port 4444/, "listener did not start");
      const probe = start(lab, "node1", "socat", [
        "-T",
        "3",
        "-u",
        "EXEC:/bin/echo hello",
        "TCP:node2:4444",
      ]);
      lr = await l.done;
      await probe.done;
      assertEquals(lr.code, 71, lr.stderr);
      assertMatch(lines(lr.stderr, "FAIL")[0], /donor 10\.78\.0\.11:\d+ is not speaking TLS/);
      assert(
        !/rsync/.test(lr.stderr.split("\n").filter((x) => x.includes("exec")).join("")),
        "no rsync started",
      );
    } finally {
      const killed = await lab.teardown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      assertEquals(killed, [], "nothing left running in the namespaces");
    }
  },
});
