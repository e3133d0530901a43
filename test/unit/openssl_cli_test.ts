/**
 * The openssl command line per release: `openssl version` parsing, the trust-only options of
 * `verify` and `s_client` for OpenSSL 1.1.1 and 3.x, and the preflight against an `openssl`
 * that behaves like 1.1.1 on its options (the host's real openssl underneath). The real 1.1.1w
 * of the Debian 11 root is exercised by test/integration/openssl_111_test.ts.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  type OpensslCli,
  opensslCli,
  parseOpensslVersion,
  trustOnlyArgs,
} from "../../src/tunnel/openssl_cli.ts";
import { checkTlsFiles } from "../../src/tunnel/certificates.ts";
import { verifyArgs } from "../../src/tunnel/openssl_verify.ts";
import { probeArgs } from "../../src/tunnel/peer_probe.ts";
import {
  type Child,
  denoAdapter,
  type ProcessAdapter,
  type SpawnSpec,
} from "../../src/proc/process.ts";
import { makeCa, makeLeaf } from "../../scripts/lib/pki.ts";
import { SstError } from "../../src/core/errors.ts";
import { classifySocatTlsError } from "../../src/tunnel/tls_failures.ts";

const V111: OpensslCli = parseOpensslVersion("OpenSSL 1.1.1w  11 Sep 2023\n");
const V30: OpensslCli = parseOpensslVersion(
  "OpenSSL 3.0.22 25 Aug 2026 (Library: OpenSSL 3.0.22 25 Aug 2026)\n",
);

Deno.test("openssl version: 1.1.1 and LibreSSL have no stores, 3.0 and 3.5 have", () => {
  assertEquals(V111, { version: "OpenSSL 1.1.1w  11 Sep 2023", hasStores: false });
  assertEquals(V30.hasStores, true);
  assertEquals(parseOpensslVersion("OpenSSL 3.5.9 29 Sep 2026 (Library: …)").hasStores, true);
  assertEquals(parseOpensslVersion("OpenSSL 1.0.2k-fips  26 Jan 2017").hasStores, false);
  assertEquals(parseOpensslVersion("LibreSSL 3.8.2").hasStores, false);
  assertEquals(parseOpensslVersion("").version, "unknown");
});

for (const cli of [V111, V30]) {
  const v = cli.hasStores ? "3.x" : "1.1.1";
  Deno.test(`trust-only options for OpenSSL ${v}: the configured CA file/dir, never a default`, () => {
    const store = cli.hasStores ? ["-no-CAstore"] : [];
    assertEquals(trustOnlyArgs(cli, { caFile: "/ca.pem" }), [
      "-CAfile",
      "/ca.pem",
      "-no-CApath",
      ...store,
    ]);
    assertEquals(trustOnlyArgs(cli, { caPath: "/cas" }), [
      "-no-CAfile",
      "-CApath",
      "/cas",
      ...store,
    ]);
    assertEquals(trustOnlyArgs(cli, { caFile: "/ca.pem", caPath: "/cas" }), [
      "-CAfile",
      "/ca.pem",
      "-CApath",
      "/cas",
      ...store,
    ]);
  });

  Deno.test(`verify arguments for OpenSSL ${v}: chain, purpose and time, -no-CAstore only on 3.x`, () => {
    const args = verifyArgs(cli, {
      caFile: "/ca.pem",
      untrusted: "/node.pem",
      now: new Date(1_700_000_000_000),
    }, "sslserver");
    assertEquals(args, [
      "verify",
      "-CAfile",
      "/ca.pem",
      "-no-CApath",
      ...(cli.hasStores ? ["-no-CAstore"] : []),
      "-untrusted",
      "/node.pem",
      "-purpose",
      "sslserver",
      "-attime",
      "1700000000",
    ]);
  });

  Deno.test(`s_client probe arguments for OpenSSL ${v}: only options that release knows`, () => {
    const args = probeArgs({
      target: "[::1]",
      port: 4444,
      tls: { certFile: "/n.crt", keyFile: "/n.key", caPath: "/cas" },
      timeoutSec: 5,
      peer: "p",
    }, cli);
    assertEquals(args.slice(0, 3), ["s_client", "-connect", "[::1]:4444"]);
    const trust = ["-no-CAfile", "-CApath", "/cas", ...(cli.hasStores ? ["-no-CAstore"] : [])];
    assertEquals(args.slice(-trust.length), trust);
    assertEquals(args.includes("-no-CAstore"), cli.hasStores);
    for (const o of ["-cert_chain", "-noservername", "-verify_return_error", "-showcerts"]) {
      assert(args.includes(o), `${o} (exists in 1.1.1 and 3.x)`);
    }
  });
}

/**
 * The host's openssl, answering `version` as `version` and refusing the options 1.1.1 does not
 * know exactly as 1.1.1w does (`verify: Use -help for summary.`, exit 1). Counts `version` runs.
 */
function like111(): { adapter: ProcessAdapter; versionRuns: () => number } {
  let runs = 0;
  const adapter: ProcessAdapter = {
    spawn(spec: SpawnSpec): Child {
      if (spec.cmd !== "openssl") return denoAdapter.spawn(spec);
      if (spec.args[0] === "version") {
        runs++;
        return denoAdapter.spawn({ ...spec, cmd: "echo", args: ["OpenSSL 1.1.1w  11 Sep 2023"] });
      }
      if (spec.args.includes("-no-CAstore")) {
        return denoAdapter.spawn({
          ...spec,
          cmd: "sh",
          args: ["-c", 'echo "$1: Use -help for summary." >&2; exit 1', "sh", spec.args[0]],
        });
      }
      return denoAdapter.spawn(spec);
    },
  };
  return { adapter, versionRuns: () => runs };
}

Deno.test("the preflight passes with an openssl that refuses -no-CAstore like 1.1.1, asking its version once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openssl-cli-test." });
  try {
    const ca = await makeCa(dir, "ca");
    const node = await makeLeaf(dir, ca, "node", { sans: ["DNS:node"] });
    const fake = like111();
    for (const role of ["joiner", "donor"] as const) {
      const r = await checkTlsFiles(
        { cert: node.cert, key: node.key, ca: ca.cert },
        { role, adapter: fake.adapter },
      );
      assertEquals(r.leaf.cn, "node");
    }
    assertEquals(fake.versionRuns(), 1, "openssl version is cached per adapter");
    assertEquals((await opensslCli(fake.adapter)).hasStores, false);
    // Without the version check this is the reported failure; with it the chain still fails
    // for a certificate of another CA, with openssl's reason.
    const other = await makeCa(dir, "other");
    const stranger = await makeLeaf(dir, other, "stranger");
    const e = await checkTlsFiles(
      { cert: stranger.cert, key: stranger.key, ca: ca.cert },
      { adapter: fake.adapter },
    ).then(() => null, (e) => e);
    assert(e instanceof SstError, String(e));
    assertEquals(e.exitCode, 22);
    assertMatch(e.message, /openssl verify says "unable to get local issuer certificate"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("socat 1.7.4.1 on OpenSSL 1.1.1: its error lines (function names filled in) are classified like 3.x's", () => {
  // Observed with Debian 11's socat/OpenSSL 1.1.1w against the host's socat/OpenSSL 3.0.
  const client = "2026/11/28 15:09:14 socat[17173] E SSL_connect(): error:1416F086:SSL " +
    "routines:tls_process_server_certificate:certificate verify failed";
  assertEquals(classifySocatTlsError(client), {
    kind: "untrusted",
    detail: "certificate verify failed",
    origin: "local",
  });
  const server = "2026/11/28 15:09:15 socat[17179] W ioctl(6, IOCTL_VM_SOCKETS_GET_LOCAL_CID, " +
    "...): Inappropriate ioctl for device\n2026/11/28 15:09:15 socat[17179] E SSL_accept(): " +
    "error:1417C086:SSL routines:tls_process_client_certificate:certificate verify failed";
  assertEquals(classifySocatTlsError(server)?.detail, "certificate verify failed");
  const alert = "2026/11/28 15:09:14 socat[1] E SSL_connect(): error:14094418:SSL " +
    "routines:ssl3_read_bytes:tlsv1 alert unknown ca";
  assertEquals(classifySocatTlsError(alert), {
    kind: "untrusted",
    detail: "tlsv1 alert unknown ca",
    origin: "remote",
  });
});
