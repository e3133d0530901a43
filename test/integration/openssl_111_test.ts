/**
 * The certificate preflight and the donor's certificate probe with the real OpenSSL 1.1.1w of
 * the Debian 11 root (`deno task roots`; RHEL 8 and Ubuntu 20.04 ship 1.1.1 too): 1.1.1 does
 * not know `-no-CAstore`, and still must trust only the configured CA file or directory. The
 * host's OpenSSL 3 runs the same checks for comparison. Without the root these tests say so and
 * pass (the per-version argument building is covered by test/unit/openssl_cli_test.ts).
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { findRoot, opensslInRoot, type OpensslRoot } from "../support/openssl_root.ts";
import { makeCa, makeCaDir, makeIntermediate, makeLeaf } from "../../scripts/lib/pki.ts";
import { checkTlsFiles } from "../../src/tunnel/certificates.ts";
import { fetchPeerCertificate } from "../../src/tunnel/peer_probe.ts";
import { opensslCli } from "../../src/tunnel/openssl_cli.ts";
import { denoAdapter, run, settlesWithin, sleep, stop } from "../../src/proc/process.ts";
import { makeClusterCa, makeNodeCertificate } from "../../src/cli/certs.ts";
import { SstError } from "../../src/core/errors.ts";

const ROOT = findRoot("bullseye");

function withRoot(name: string, fn: (o: OpensslRoot) => Promise<void>): void {
  Deno.test(name, async () => {
    if (!ROOT) {
      console.log(`SKIPPED: no Debian 11 root with openssl (build it with 'deno task roots')`);
      return;
    }
    const o = await opensslInRoot(ROOT);
    try {
      await fn(o);
    } finally {
      await o.cleanup();
    }
  });
}

async function rejected(p: Promise<unknown>): Promise<SstError> {
  const e = await p.then(() => null, (e) => e);
  assert(e instanceof SstError, `expected an SstError, got ${e}`);
  return e;
}

withRoot("the Debian 11 root's openssl is 1.1.1 and is detected as having no stores", async (o) => {
  assertMatch(o.version, /^OpenSSL 1\.1\.1/);
  assertEquals((await opensslCli(o.adapter)).hasStores, false);
  assertEquals((await opensslCli(denoAdapter)).hasStores, true, "the host runs OpenSSL 3");
});

withRoot(
  "OpenSSL 1.1.1 preflight accepts a CA file, a hashed CA dir and an intermediate chain, per role",
  async (o) => {
    const dir = await o.scratch();
    const ca = await makeCa(dir, "ca");
    const inter = await makeIntermediate(dir, ca, "inter");
    const node = await makeLeaf(dir, ca, "node", { sans: ["DNS:node"] });
    const viaInter = await makeLeaf(dir, inter, "via", { sans: ["DNS:via"] });
    const chain = `${dir}/via-chain.crt`;
    await Deno.writeTextFile(
      chain,
      (await Deno.readTextFile(viaInter.cert)) + (await Deno.readTextFile(inter.cert)),
    );
    const hashed = await makeCaDir(dir, "cas", [ca], true);
    for (const role of ["joiner", "donor"] as const) {
      const a = await checkTlsFiles({ cert: node.cert, key: node.key, ca: ca.cert }, {
        role,
        adapter: o.adapter,
      });
      assertEquals(a.warnings, []);
      await checkTlsFiles({ cert: node.cert, key: node.key, caPath: hashed }, {
        role,
        adapter: o.adapter,
      });
      await checkTlsFiles({ cert: chain, key: viaInter.key, ca: ca.cert }, {
        role,
        adapter: o.adapter,
      });
    }
  },
);

withRoot(
  "OpenSSL 1.1.1 preflight refuses a foreign chain with openssl's reason, and the wrong purpose with error 26",
  async (o) => {
    const dir = await o.scratch();
    const ca = await makeCa(dir, "ca");
    const other = await makeCa(dir, "other");
    const stranger = await makeLeaf(dir, other, "stranger");
    const e = await rejected(
      checkTlsFiles({ cert: stranger.cert, key: stranger.key, ca: ca.cert }, {
        adapter: o.adapter,
      }),
    );
    assertEquals(e.exitCode, 22);
    assertMatch(
      e.message,
      /openssl verify says "unable to get local issuer certificate" at the node/,
    );
    const serverOnly = await makeLeaf(dir, ca, "srv", { extendedKeyUsage: ["serverAuth"] });
    const p = await rejected(
      checkTlsFiles({ cert: serverOnly.cert, key: serverOnly.key, ca: ca.cert }, {
        role: "donor",
        adapter: o.adapter,
      }),
    );
    assertMatch(p.message, /unsupported certificate purpose.*TLS Web Client Authentication/);
  },
);

for (const which of ["1.1.1 (Debian 11 root)", "3.x (host)"]) {
  withRoot(
    `OpenSSL ${which}: a CA reachable only through OpenSSL's default dir, file or store is not trusted`,
    async (o) => {
      const dir = await o.scratch();
      const ca = await makeCa(dir, "ca");
      const other = await makeCa(dir, "other");
      const stranger = await makeLeaf(dir, other, "stranger");
      const otherDir = await makeCaDir(dir, "default-store", [other], true);
      // What 1.1.1 and 3.x consult when not told otherwise: all of them point at `other`.
      const defaults = {
        SSL_CERT_DIR: otherDir,
        SSL_CERT_FILE: other.cert,
        SSL_CERT_URI: `file:${otherDir}`,
      };
      const adapter = which.startsWith("1.1.1") ? o.adapterWith(defaults) : {
        spawn: (s: Parameters<typeof denoAdapter.spawn>[0]) =>
          denoAdapter.spawn({ ...s, env: { ...s.env, ...defaults } }),
      };
      const hashedOwn = await makeCaDir(dir, "own", [ca], true);
      for (const files of [{ ca: ca.cert }, { caPath: hashedOwn }]) {
        const e = await rejected(
          checkTlsFiles({ cert: stranger.cert, key: stranger.key, ...files }, { adapter }),
        );
        assertMatch(e.message, /unable to get local issuer certificate/, JSON.stringify(files));
      }
    },
  );
}

/**
 * A TLS listener on the host (socat, verify=1) that sends an rsync daemon's greeting, like
 * the joiner's listener does to the donor's probe.
 */
async function greetingListener(dir: string, files: { cert: string; key: string; ca: string }) {
  const greeting = `${dir}/greeting`;
  await Deno.writeTextFile(greeting, "@RSYNCD: 31.0\n");
  const child = denoAdapter.spawn({
    cmd: "socat",
    args: [
      "-d",
      "-d",
      "-U",
      `OPENSSL-LISTEN:0,bind=127.0.0.1,reuseaddr,cert=${files.cert},key=${files.key},` +
      `cafile=${files.ca},verify=1`,
      `OPEN:${greeting},rdonly`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    group: true,
  });
  let text = "";
  void (async () => {
    for await (const c of child.stderr!.pipeThrough(new TextDecoderStream())) text += c;
  })();
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const port = Number(text.match(/listening on AF=2 127\.0\.0\.1:(\d+)/)?.[1] ?? 0);
    if (port > 0) return { port, child, log: () => text };
    await sleep(20);
  }
  await stop(child, 1000);
  throw new Error(`listener did not start: ${text}`);
}

withRoot(
  "OpenSSL 1.1.1 s_client probe fetches the joiner's certificate with our CA only",
  async (o) => {
    const dir = await o.scratch();
    const ca = await makeCa(dir, "ca");
    const joiner = await makeLeaf(dir, ca, "joiner", { cn: "localhost", sans: ["DNS:localhost"] });
    const donor = await makeLeaf(dir, ca, "donor", { cn: "localhost", sans: ["DNS:localhost"] });
    const l = await greetingListener(dir, { cert: joiner.cert, key: joiner.key, ca: ca.cert });
    try {
      const leaf = await fetchPeerCertificate(o.adapter, {
        target: "127.0.0.1",
        port: l.port,
        tls: { certFile: donor.cert, keyFile: donor.key, caFile: ca.cert },
        timeoutSec: 10,
        peer: `127.0.0.1:${l.port}`,
      });
      assertEquals(leaf.dnsNames, ["localhost"]);
    } finally {
      if (!(await settlesWithin(l.child.status, 5000))) await stop(l.child, 1000);
    }
    // A joiner whose certificate our CA did not issue is refused by 1.1.1's s_client too.
    const other = await makeCa(dir, "other");
    const foreign = await makeLeaf(dir, other, "foreign", { cn: "localhost" });
    const l2 = await greetingListener(dir, { cert: foreign.cert, key: foreign.key, ca: ca.cert });
    try {
      const e = await rejected(fetchPeerCertificate(o.adapter, {
        target: "127.0.0.1",
        port: l2.port,
        tls: { certFile: donor.cert, keyFile: donor.key, caFile: ca.cert },
        timeoutSec: 10,
        peer: `127.0.0.1:${l2.port}`,
      }));
      assertEquals(e.exitCode, 129, e.message);
      assertMatch(e.message, /not issued by a CA in our \[sst\] tca/);
    } finally {
      await stop(l2.child, 1000);
    }
  },
);

withRoot(
  "certs ca, certs node (CA-signed and --self-signed) work with OpenSSL 1.1.1 and pass its preflight",
  async (o) => {
    const dir = await o.scratch();
    const quiet = console.log;
    console.log = () => {}; // the [sst] lines certs prints for the operator
    try {
      await makeClusterCa({ out: `${dir}/ca` }, o.adapter);
      await makeNodeCertificate({ name: "node1", out: `${dir}/n1`, ca: `${dir}/ca` }, o.adapter);
      await makeNodeCertificate({ name: "node2", out: `${dir}/n2`, selfSigned: true }, o.adapter);
    } finally {
      console.log = quiet;
    }
    // 1.1.1 with the system openssl.cnf made a CA with two basicConstraints and then refused it.
    const caText = await run(o.adapter, {
      cmd: "openssl",
      args: ["x509", "-noout", "-text", "-in", `${dir}/ca/ca.crt`],
    }, { timeoutMs: 10_000 });
    assertEquals(caText.stdout.match(/Basic Constraints/g)?.length, 1, caText.stdout);
    for (const role of ["joiner", "donor"] as const) {
      await checkTlsFiles({
        cert: `${dir}/n1/node1.crt`,
        key: `${dir}/n1/node1.key`,
        ca: `${dir}/n1/ca.crt`,
      }, { role, adapter: o.adapter });
      await checkTlsFiles({
        cert: `${dir}/n2/node2.crt`,
        key: `${dir}/n2/node2.key`,
        ca: `${dir}/n2/node2.crt`,
      }, { role, adapter: o.adapter });
    }
  },
);
