/**
 * Certificate preflight and socat TLS error classification, against real certificates made
 * with the openssl CLI and real socat 1.7.4.4 processes on 127.0.0.1.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CheckedTls, checkTlsFiles } from "../../src/tunnel/certificates.ts";
import { certificateMatchesHost } from "../../src/tunnel/host_names.ts";
import {
  classifySocatTlsError,
  describeTlsFailure,
  type TlsFailure,
} from "../../src/tunnel/tls_failures.ts";
import { ExitCode, SstError } from "../../src/core/errors.ts";
import {
  denoAdapter,
  run,
  type RunResult,
  settlesWithin,
  sleep,
  stop,
} from "../../src/proc/process.ts";
import {
  type Ca,
  encryptKey,
  type Leaf,
  makeBundle,
  makeCa,
  makeCaDir,
  makeIntermediate,
  makeLeaf,
} from "../../scripts/lib/pki.ts";

// ---------------------------------------------------------------------------------------------
// Fixture: one PKI for the whole file

interface Pki {
  dir: string;
  ca: Ca;
  otherCa: Ca;
  inter: Ca;
  /** CN=node1, SAN DNS:node1.example, IP:127.0.0.1 */
  node: Leaf;
  node2: Leaf;
  cnOnly: Leaf;
  dnsOnly: Leaf;
  ipOnly: Leaf;
  v6Only: Leaf;
  stranger: Leaf;
  expired: Leaf;
  future: Leaf;
  serverOnly: Leaf;
  clientOnly: Leaf;
  viaInter: Leaf;
  chain: string;
  chainCombined: string;
  wrongOrder: string;
  encryptedKey: string;
  hashedDir: string;
  plainDir: string;
}

let pkiPromise: Promise<Pki> | undefined;

function pki(): Promise<Pki> {
  pkiPromise ??= buildPki();
  return pkiPromise;
}

async function buildPki(): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "certificates_test-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  const ca = await makeCa(dir, "ca");
  const otherCa = await makeCa(dir, "other-ca");
  const inter = await makeIntermediate(dir, ca, "inter");
  const both = { sans: ["DNS:node1.example", "IP:127.0.0.1"] };
  const viaInter = await makeLeaf(dir, inter, "via-inter", { cn: "node3", ...both });
  return {
    dir,
    ca,
    otherCa,
    inter,
    node: await makeLeaf(dir, ca, "node1", both),
    node2: await makeLeaf(dir, ca, "node2", { sans: ["DNS:node2.example"] }),
    cnOnly: await makeLeaf(dir, ca, "cn-only", { cn: "cnonly.example" }),
    dnsOnly: await makeLeaf(dir, ca, "dns-only", {
      cn: "dnsonly-cn",
      sans: ["DNS:dnsonly.example"],
    }),
    ipOnly: await makeLeaf(dir, ca, "ip-only", { cn: "iponly-cn", sans: ["IP:127.0.0.1"] }),
    v6Only: await makeLeaf(dir, ca, "v6-only", { cn: "v6-cn", sans: ["IP:::1"] }),
    stranger: await makeLeaf(dir, otherCa, "stranger", both),
    expired: await makeLeaf(dir, ca, "expired", {
      ...both,
      startDate: "20200101000000Z",
      endDate: "20210101000000Z",
    }),
    future: await makeLeaf(dir, ca, "future", {
      ...both,
      startDate: "20400101000000Z",
      endDate: "20410101000000Z",
    }),
    serverOnly: await makeLeaf(dir, ca, "server-only", {
      ...both,
      extendedKeyUsage: ["serverAuth"],
    }),
    clientOnly: await makeLeaf(dir, ca, "client-only", {
      ...both,
      extendedKeyUsage: ["clientAuth"],
    }),
    viaInter,
    chain: await makeBundle(dir, "chain.pem", [viaInter.cert, inter.cert]),
    chainCombined: await makeBundle(dir, "chain-combined.pem", [
      viaInter.key,
      viaInter.cert,
      inter.cert,
    ]),
    wrongOrder: await makeBundle(dir, "wrong-order.pem", [inter.cert, viaInter.cert]),
    encryptedKey: await encryptKey(dir, `${dir}/node1.key`, "node1-encrypted.key", "secret"),
    hashedDir: await makeCaDir(dir, "capath-hashed", [ca], true),
    plainDir: await makeCaDir(dir, "capath-plain", [ca], false),
  };
}

/** Awaits a rejection and checks it: SstError, exit code, one line, expected fragments. */
async function rejects(
  p: Promise<unknown>,
  exitCode: number,
  ...parts: Array<string | RegExp>
): Promise<SstError> {
  const e = await p.then(() => null, (err) => err);
  assert.ok(e instanceof SstError, `expected an SstError, got ${e}`);
  assert.equal(e.exitCode, exitCode, e.message);
  assert.ok(!/[\r\n]/.test(e.message), `message is one line: ${JSON.stringify(e.message)}`);
  for (const part of parts) {
    if (typeof part === "string") assert.ok(e.message.includes(part), `${part} in: ${e.message}`);
    else assert.match(e.message, part);
  }
  return e;
}

async function fingerprint(cert: string): Promise<string> {
  const args = ["x509", "-noout", "-fingerprint", "-sha256", "-in", cert];
  const r = await run(denoAdapter, { cmd: "openssl", args }, { timeoutMs: 10_000 });
  return r.stdout.trim().replace(/^.*=/, "");
}

async function writeFile(name: string, data: string | Uint8Array, mode = 0o600): Promise<string> {
  const p = `${(await pki()).dir}/${name}`;
  if (typeof data === "string") await Deno.writeTextFile(p, data);
  else await Deno.writeFile(p, data);
  await Deno.chmod(p, mode);
  return p;
}

// ---------------------------------------------------------------------------------------------
// checkTlsFiles: accepted layouts

Deno.test("checkTlsFiles accepts tcert+tkey+tca and reports the leaf's names, dates and SHA-256 fingerprint", async () => {
  const { node, ca } = await pki();
  const now = new Date();
  const r = await checkTlsFiles({ cert: node.cert, key: node.key, ca: ca.cert }, { now });
  assert.equal(r.certFile, node.cert);
  assert.equal(r.keyFile, node.key);
  assert.equal(r.caFile, ca.cert);
  assert.equal(r.caPath, undefined);
  assert.equal(r.leaf.cn, "node1");
  assert.equal(r.leaf.subject, "CN=node1");
  assert.deepEqual(r.leaf.dnsNames, ["node1.example"]);
  assert.deepEqual(r.leaf.ipAddresses, ["127.0.0.1"]);
  assert.equal(r.leaf.fingerprint256, await fingerprint(node.cert));
  assert.ok(r.leaf.notBefore.getTime() <= now.getTime() + 1000);
  assert.ok(r.leaf.notAfter.getTime() > now.getTime() + 29 * 86_400_000);
  assert.deepEqual(r.warnings, []);
});

Deno.test("checkTlsFiles accepts key+cert combined in tcert without tkey, and keyFile is tcert", async () => {
  const { node, ca } = await pki();
  const r = await checkTlsFiles({ cert: node.combined, ca: ca.cert, key: "" });
  assert.equal(r.keyFile, node.combined);
  assert.equal(r.certFile, node.combined);
});

Deno.test("checkTlsFiles accepts leaf+intermediate in tcert with only the root in tca (chain passed as untrusted)", async () => {
  const { chain, chainCombined, viaInter, ca } = await pki();
  const r = await checkTlsFiles({ cert: chain, key: viaInter.key, ca: ca.cert });
  assert.equal(r.leaf.cn, "node3");
  const c = await checkTlsFiles({ cert: chainCombined, ca: ca.cert });
  assert.equal(c.keyFile, chainCombined);
});

Deno.test("checkTlsFiles accepts a hashed tcapath without tca", async () => {
  const { node, hashedDir } = await pki();
  const r = await checkTlsFiles({ cert: node.cert, key: node.key, caPath: hashedDir });
  assert.equal(r.caPath, hashedDir);
  assert.deepEqual(r.warnings, []);
});

// ---------------------------------------------------------------------------------------------
// checkTlsFiles: configuration and file problems

Deno.test("checkTlsFiles without tcert asks to set [sst] tcert (exit 22)", async () => {
  const { ca } = await pki();
  await rejects(checkTlsFiles({ ca: ca.cert }), ExitCode.config, "[sst] tcert is not set");
  await rejects(checkTlsFiles({ cert: " ", ca: ca.cert }), ExitCode.config, "set [sst] tcert");
});

Deno.test("checkTlsFiles without tca and tcapath says mutual verification needs a CA (exit 22)", async () => {
  const { node } = await pki();
  await rejects(
    checkTlsFiles({ cert: node.cert, key: node.key }),
    ExitCode.config,
    "neither [sst] tca nor [sst] tcapath is set",
    "never runs without verification",
  );
});

Deno.test("checkTlsFiles names the [sst] key and path of a missing file", async () => {
  const { node, ca, dir } = await pki();
  await rejects(
    checkTlsFiles({ cert: node.cert, key: `${dir}/nope.key`, ca: ca.cert }),
    ExitCode.config,
    `[sst] tkey=${dir}/nope.key does not exist`,
  );
  await rejects(
    checkTlsFiles({ cert: node.cert, key: node.key, ca: `${dir}/nope.crt` }),
    ExitCode.config,
    `[sst] tca=${dir}/nope.crt does not exist`,
  );
  await rejects(
    checkTlsFiles({ cert: node.cert, key: node.key, caPath: `${dir}/nope.d` }),
    ExitCode.config,
    `[sst] tcapath=${dir}/nope.d does not exist`,
  );
});

Deno.test("checkTlsFiles rejects a directory or a FIFO where a file is expected", async () => {
  const { node, ca, hashedDir, dir } = await pki();
  await rejects(
    checkTlsFiles({ cert: hashedDir, ca: ca.cert }),
    ExitCode.config,
    `[sst] tcert=${hashedDir} is a directory, not a file`,
  );
  await rejects(
    checkTlsFiles({ cert: node.cert, key: node.key, ca: hashedDir }),
    ExitCode.config,
    "use [sst] tcapath",
  );
  const fifo = `${dir}/fifo`;
  const mk = await run(denoAdapter, { cmd: "mkfifo", args: [fifo] }, { timeoutMs: 5000 });
  assert.equal(mk.code, 0, mk.stderr);
  await rejects(
    checkTlsFiles({ cert: node.cert, key: fifo, ca: ca.cert }),
    ExitCode.config,
    `[sst] tkey=${fifo} is not a regular file`,
  );
});

Deno.test("checkTlsFiles reports an unreadable tkey as EACCES (exit 13) naming our uid and chown/chmod", async () => {
  const { node, ca } = await pki();
  const dir = await Deno.makeTempDir({ prefix: "certificates_perm-" });
  try {
    await Deno.chmod(dir, 0o755);
    const cert = `${dir}/node.crt`;
    const key = `${dir}/node.key`;
    const caFile = `${dir}/ca.crt`;
    await Deno.copyFile(node.cert, cert);
    await Deno.copyFile(ca.cert, caFile);
    await Deno.copyFile(node.key, key);
    await Deno.chmod(cert, 0o644);
    await Deno.chmod(caFile, 0o644);
    const files = { cert, key, ca: caFile };
    if (Deno.uid() !== 0) {
      await Deno.chmod(key, 0o000);
      await rejects(checkTlsFiles(files), ExitCode.access, `uid ${Deno.uid()}`, "chmod");
      return;
    }
    // Root reads everything: run the check as nobody (uid 65534) in a child process.
    await Deno.chmod(key, 0o600);
    const out = await checkAsNobody(dir, files);
    assert.equal(out.exitCode, ExitCode.access, out.message);
    assert.ok(!out.message.includes("\n"));
    for (const part of [`[sst] tkey=${key} is not readable by uid 65534`, "chown", "chmod"]) {
      assert.ok(out.message.includes(part), `${part} in: ${out.message}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs checkTlsFiles as uid/gid 65534 with copies of the sources; returns the SstError. */
async function checkAsNobody(
  dir: string,
  files: { cert: string; key: string; ca: string },
): Promise<{ exitCode: number; message: string }> {
  // The whole source tree, so the probe imports exactly what the program does.
  const copy = await new Deno.Command("cp", {
    args: ["-R", new URL("../../src", import.meta.url).pathname, `${dir}/src`],
  }).output();
  if (!copy.success) throw new Error(new TextDecoder().decode(copy.stderr));
  await Deno.writeTextFile(
    `${dir}/probe.ts`,
    'import { checkTlsFiles } from "./src/tunnel/certificates.ts";\n' +
      "checkTlsFiles(JSON.parse(Deno.args[0])).then(\n" +
      '  () => console.log(JSON.stringify({ exitCode: 0, message: "ok" })),\n' +
      "  (e) => console.log(JSON.stringify({ exitCode: e.exitCode, message: e.message })),\n" +
      ");\n",
  );
  await Deno.mkdir(`${dir}/deno-dir`, { mode: 0o777 });
  await Deno.chmod(`${dir}/deno-dir`, 0o777);
  const args = [
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--",
    Deno.execPath(),
    "run",
    "-A",
    "--no-config",
    "--no-lock",
    `${dir}/probe.ts`,
    JSON.stringify(files),
  ];
  const env = { DENO_DIR: `${dir}/deno-dir`, HOME: dir, NO_COLOR: "1" };
  const r = await run(denoAdapter, { cmd: "setpriv", args, env, cwd: dir }, {
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, `probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

// ---------------------------------------------------------------------------------------------
// checkTlsFiles: content problems

Deno.test("checkTlsFiles rejects a tcert without PEM certificate (a key file; DER with a convert hint)", async () => {
  const { node, ca } = await pki();
  await rejects(
    checkTlsFiles({ cert: node.key, ca: ca.cert }),
    ExitCode.config,
    `[sst] tcert=${node.key} contains no PEM certificate`,
    "holds only a private key",
  );
  const derFile = await writeFile("node1.der", await derBytes(node.cert));
  await rejects(
    checkTlsFiles({ cert: derFile, key: node.key, ca: ca.cert }),
    ExitCode.config,
    "contains no PEM certificate",
    "openssl x509 -inform der",
  );
});

async function derBytes(cert: string): Promise<Uint8Array> {
  const pem = await Deno.readTextFile(cert);
  const b64 = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

Deno.test("checkTlsFiles without tkey and no key inside tcert asks to set [sst] tkey", async () => {
  const { node, ca } = await pki();
  await rejects(
    checkTlsFiles({ cert: node.cert, ca: ca.cert }),
    ExitCode.config,
    `[sst] tcert=${node.cert} contains no private key and [sst] tkey is not set`,
    "set [sst] tkey",
  );
  await rejects(
    checkTlsFiles({ cert: node.cert, key: node.cert, ca: ca.cert }),
    ExitCode.config,
    `[sst] tkey=${node.cert} contains no PEM private key (it holds a certificate)`,
  );
});

Deno.test("checkTlsFiles rejects a passphrase-protected key: it cannot be used non-interactively", async () => {
  const { node, ca, encryptedKey } = await pki();
  assert.match(await Deno.readTextFile(encryptedKey), /BEGIN ENCRYPTED PRIVATE KEY/);
  await rejects(
    checkTlsFiles({ cert: node.cert, key: encryptedKey, ca: ca.cert }),
    ExitCode.config,
    `[sst] tkey=${encryptedKey} holds a passphrase-protected private key`,
    "non-interactively",
    "openssl pkey",
  );
  // The traditional (Proc-Type) encryption is recognised as well.
  const legacy = await run(denoAdapter, {
    cmd: "openssl",
    args: ["ec", "-in", node.key, "-aes256", "-passout", "pass:secret"],
  }, { timeoutMs: 10_000 });
  assert.match(legacy.stdout, /Proc-Type: 4,ENCRYPTED/);
  const legacyKey = await writeFile("legacy-encrypted.key", legacy.stdout);
  await rejects(
    checkTlsFiles({ cert: node.cert, key: legacyKey, ca: ca.cert }),
    ExitCode.config,
    "passphrase-protected",
  );
});

Deno.test("checkTlsFiles rejects a key that cannot be parsed", async () => {
  const { node, ca } = await pki();
  const bad = await writeFile(
    "garbage.key",
    "-----BEGIN PRIVATE KEY-----\nTm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n",
  );
  await rejects(
    checkTlsFiles({ cert: node.cert, key: bad, ca: ca.cert }),
    ExitCode.config,
    `[sst] tkey=${bad} holds a private key that cannot be parsed`,
  );
});

Deno.test("checkTlsFiles rejects a tkey of another certificate with the documented one-line message", async () => {
  const { node, node2, ca } = await pki();
  await rejects(
    checkTlsFiles({ cert: node.cert, key: node2.key, ca: ca.cert }),
    ExitCode.config,
    `[sst] tkey=${node2.key} does not match the certificate in [sst] tcert=${node.cert} ` +
      "(public keys differ); point tkey at the key the certificate was issued for",
  );
  const mixed = await makeBundle((await pki()).dir, "mixed.pem", [node2.key, node.cert]);
  await rejects(
    checkTlsFiles({ cert: mixed, ca: ca.cert }),
    ExitCode.config,
    `the private key in [sst] tcert=${mixed} does not match its certificate`,
  );
});

Deno.test("checkTlsFiles tells to put the node certificate first when the intermediate comes first", async () => {
  const { wrongOrder, viaInter, ca } = await pki();
  await rejects(
    checkTlsFiles({ cert: wrongOrder, key: viaInter.key, ca: ca.cert }),
    ExitCode.config,
    "certificate #2 (CN=node3)",
    "put the node certificate first",
  );
});

Deno.test("checkTlsFiles rejects an expired tcert and prints its dates in UTC", async () => {
  const { expired, ca } = await pki();
  await rejects(
    checkTlsFiles({ cert: expired.cert, key: expired.key, ca: ca.cert }),
    ExitCode.config,
    `[sst] tcert=${expired.cert} expired on 2021-01-01 00:00:00 UTC`,
    "valid from 2020-01-01 00:00:00 UTC",
    "renew the certificate",
  );
});

Deno.test("checkTlsFiles rejects a not-yet-valid tcert and mentions the clock", async () => {
  const { future, ca } = await pki();
  await rejects(
    checkTlsFiles({ cert: future.cert, key: future.key, ca: ca.cert }),
    ExitCode.config,
    `[sst] tcert=${future.cert} is not valid yet (valid from 2040-01-01 00:00:00 UTC`,
    "clock",
  );
});

Deno.test("checkTlsFiles uses opts.now: expiry error after notAfter, a warning within 14 days", async () => {
  const { node, ca } = await pki();
  const files = { cert: node.cert, key: node.key, ca: ca.cert };
  const { leaf } = await checkTlsFiles(files);
  const after = new Date(leaf.notAfter.getTime() + 86_400_000);
  await rejects(checkTlsFiles(files, { now: after }), ExitCode.config, "expired on");
  const soon = new Date(leaf.notAfter.getTime() - 5 * 86_400_000 - 3600_000);
  const r = await checkTlsFiles(files, { now: soon });
  assert.equal(r.warnings.length, 1, r.warnings.join("\n"));
  assert.match(r.warnings[0], /expires on .* UTC \(in 5 day\(s\)\); renew it/);
});

Deno.test("checkTlsFiles reports openssl's reason when tcert does not chain to tca", async () => {
  const { stranger, ca } = await pki();
  await rejects(
    checkTlsFiles({ cert: stranger.cert, key: stranger.key, ca: ca.cert }),
    ExitCode.config,
    `[sst] tcert=${stranger.cert} does not verify against [sst] tca=${ca.cert}`,
    'openssl verify says "unable to get local issuer certificate" at the node certificate',
    "point [sst] tca at the CA certificate that issued it",
  );
});

Deno.test("checkTlsFiles says to append the intermediate when tcert lacks it", async () => {
  const { viaInter, ca } = await pki();
  await rejects(
    checkTlsFiles({ cert: viaInter.cert, key: viaInter.key, ca: ca.cert }),
    ExitCode.config,
    "unable to get local issuer certificate",
    "append that intermediate to tcert after the node certificate",
  );
});

Deno.test("checkTlsFiles ignores OpenSSL's default CA dir (SSL_CERT_DIR) like socat with cafile= does", async () => {
  const { stranger, otherCa, ca, node2, dir } = await pki();
  const otherDir = await makeCaDir(dir, "capath-other", [otherCa], true);
  // socat: a CA reachable only through SSL_CERT_DIR does not count.
  const l = await listenTls(tls(stranger, ca));
  const c = await run(denoAdapter, {
    cmd: "socat",
    args: [
      "-d",
      `OPENSSL:127.0.0.1:${l.port},no-sni=1,${tls(node2, ca)},commonname=node1.example`,
      "-",
    ],
    env: { SSL_CERT_DIR: otherDir },
  }, { timeoutMs: 10_000, input: "hello\n" });
  await l.finish();
  assert.notEqual(c.code, 0, "socat must not trust SSL_CERT_DIR when cafile= is given");
  // openssl verify would (without -no-CApath); the preflight must not.
  const previous = Deno.env.get("SSL_CERT_DIR");
  Deno.env.set("SSL_CERT_DIR", otherDir);
  try {
    await rejects(
      checkTlsFiles({ cert: stranger.cert, key: stranger.key, ca: ca.cert }),
      ExitCode.config,
      "unable to get local issuer certificate",
    );
  } finally {
    if (previous === undefined) Deno.env.delete("SSL_CERT_DIR");
    else Deno.env.set("SSL_CERT_DIR", previous);
  }
});

Deno.test("checkTlsFiles rejects a tca without certificate", async () => {
  const { node, ca } = await pki();
  const empty = await writeFile("empty-ca.pem", "");
  await rejects(
    checkTlsFiles({ cert: node.cert, key: node.key, ca: empty }),
    ExitCode.config,
    `[sst] tca=${empty} contains no PEM certificate`,
  );
  await rejects(
    checkTlsFiles({ cert: node.cert, key: node.key, ca: ca.key }),
    ExitCode.config,
    `[sst] tca=${ca.key} contains no PEM certificate; it holds only a private key`,
  );
});

Deno.test("tcapath: OpenSSL needs <hash>.0 links; an unhashed dir is an error alone, a warning beside tca", async () => {
  const { node, ca, plainDir } = await pki();
  // What OpenSSL itself does with such a directory: it cannot find the CA.
  const r = await run(denoAdapter, {
    cmd: "openssl",
    args: ["verify", "-no-CAfile", "-no-CAstore", "-CApath", plainDir, node.cert],
  }, { timeoutMs: 10_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /unable to get local issuer certificate/);
  await rejects(
    checkTlsFiles({ cert: node.cert, key: node.key, caPath: plainDir }),
    ExitCode.config,
    `[sst] tcapath=${plainDir} has no <subject-hash>.0 entries`,
    `run 'openssl rehash ${plainDir}'`,
  );
  const both = await checkTlsFiles({
    cert: node.cert,
    key: node.key,
    ca: ca.cert,
    caPath: plainDir,
  });
  assert.equal(both.warnings.length, 1);
  assert.match(both.warnings[0], /openssl rehash .*only \[sst\] tca is used/);
});

Deno.test("tcapath that is a file is rejected as not a directory", async () => {
  const { node, ca } = await pki();
  await rejects(
    checkTlsFiles({ cert: node.cert, key: node.key, caPath: ca.cert }),
    ExitCode.config,
    `[sst] tcapath=${ca.cert} is not a directory`,
  );
});

Deno.test("role joiner rejects a clientAuth-only tcert (listener needs sslserver); donor accepts it with a warning", async () => {
  const { clientOnly, ca } = await pki();
  const files = { cert: clientOnly.cert, key: clientOnly.key, ca: ca.cert };
  await rejects(
    checkTlsFiles(files, { role: "joiner" }),
    ExitCode.config,
    '"unsuitable certificate purpose"',
    "TLS Web Server Authentication",
    "extendedKeyUsage = serverAuth, clientAuth",
  );
  const donor = await checkTlsFiles(files, { role: "donor" });
  assert.equal(donor.warnings.length, 1);
  assert.match(donor.warnings[0], /will fail as joiner/);
});

Deno.test("role donor rejects a serverAuth-only tcert (connecting side needs sslclient)", async () => {
  const { serverOnly, ca } = await pki();
  const files = { cert: serverOnly.cert, key: serverOnly.key, ca: ca.cert };
  await rejects(checkTlsFiles(files, { role: "donor" }), ExitCode.config, "TLS Web Client");
  const joiner = await checkTlsFiles(files, { role: "joiner" });
  assert.match(joiner.warnings.join(" "), /will fail as donor/);
  const noRole = await checkTlsFiles(files);
  assert.match(noRole.warnings.join(" "), /will fail as donor/);
});

Deno.test("checkTlsFiles warns about a CN-only certificate and a group/other-readable key", async () => {
  const { cnOnly, ca, dir } = await pki();
  const key = `${dir}/cn-only-readable.key`;
  await Deno.copyFile(cnOnly.key, key);
  await Deno.chmod(key, 0o644);
  const r = await checkTlsFiles({ cert: cnOnly.cert, key, ca: ca.cert });
  assert.equal(r.warnings.length, 2, r.warnings.join("\n"));
  assert.match(r.warnings[0], /has no subjectAltName, only CN=cnonly\.example/);
  assert.equal(
    r.warnings[1],
    `[sst] tkey=${key} holds the private key and is readable by group and others (mode 0644); ` +
      "chmod 600 it",
  );
  for (const w of r.warnings) assert.ok(!w.includes("\n"));
  await Deno.chmod(key, 0o640);
  const group = await checkTlsFiles({ cert: cnOnly.cert, key, ca: ca.cert });
  assert.match(group.warnings[1], /readable by group \(mode 0640\)/);
  await Deno.chmod(key, 0o600);
  const tight = await checkTlsFiles({ cert: cnOnly.cert, key, ca: ca.cert });
  assert.equal(tight.warnings.length, 1, "mode 0600 gives no key warning");
});

// ---------------------------------------------------------------------------------------------
// certificateMatchesHost

function leafWith(over: Partial<CheckedTls["leaf"]>): CheckedTls["leaf"] {
  return {
    subject: "CN=x",
    dnsNames: [],
    ipAddresses: [],
    notBefore: new Date(0),
    notAfter: new Date(0),
    fingerprint256: "",
    ...over,
  };
}

Deno.test("certificateMatchesHost matches SAN DNS names case-insensitively, ignoring a trailing dot", () => {
  const leaf = leafWith({ cn: "other", dnsNames: ["Node1.Example"] });
  assert.equal(certificateMatchesHost(leaf, "node1.example"), true);
  assert.equal(certificateMatchesHost(leaf, "NODE1.EXAMPLE."), true);
  assert.equal(certificateMatchesHost(leaf, "node2.example"), false);
  assert.equal(certificateMatchesHost(leaf, "other"), false, "CN ignored when SAN DNS present");
});

Deno.test("certificateMatchesHost: a wildcard covers exactly one left-most label (RFC 6125)", () => {
  const leaf = leafWith({ dnsNames: ["*.db.example", "n*.web.example", "*.com"] });
  assert.equal(certificateMatchesHost(leaf, "a.db.example"), true);
  assert.equal(certificateMatchesHost(leaf, "a.b.db.example"), false);
  assert.equal(certificateMatchesHost(leaf, "db.example"), false);
  assert.equal(certificateMatchesHost(leaf, "node7.web.example"), true);
  assert.equal(certificateMatchesHost(leaf, "x7.web.example"), false);
  assert.equal(certificateMatchesHost(leaf, "example.com"), false, "no wildcard on a TLD");
  assert.equal(certificateMatchesHost(leaf, "127.0.0.1"), false);
  const multi = leafWith({ dnsNames: ["*.*.example.com", "a*b*.example.com"] });
  assert.equal(certificateMatchesHost(multi, "x.y.example.com"), false, "one wildcard only");
  assert.equal(certificateMatchesHost(multi, "axbxb.example.com"), false, "one '*' per label");
});

Deno.test("certificateMatchesHost compares IP literals as addresses (IPv6 brackets, zones, forms)", () => {
  const leaf = leafWith({ dnsNames: ["node1"], ipAddresses: ["10.0.0.5", "fe80::1:2"] });
  assert.equal(certificateMatchesHost(leaf, "10.0.0.5"), true);
  assert.equal(certificateMatchesHost(leaf, "10.0.0.6"), false);
  assert.equal(certificateMatchesHost(leaf, "[fe80::1:2]"), true);
  assert.equal(certificateMatchesHost(leaf, "fe80:0:0:0:0:0:1:2"), true);
  assert.equal(certificateMatchesHost(leaf, "[fe80::1:2%eth0]"), true);
  assert.equal(certificateMatchesHost(leaf, "fe80::1:3"), false);
  assert.equal(certificateMatchesHost(leaf, "node1"), true);
  assert.equal(certificateMatchesHost(leafWith({ dnsNames: ["10.0.0.5"] }), "10.0.0.5"), false);
  const full = leafWith({ ipAddresses: ["1:2:3:4:5:6:7:8"] });
  assert.equal(certificateMatchesHost(full, "1:2:3:4:5:6:7:8"), true);
  assert.equal(
    certificateMatchesHost(full, "1::2:3:4:5:6:7:8"),
    false,
    "'::' must stand for a group",
  );
  assert.equal(certificateMatchesHost(full, "1:2:3:4:5:6:7:8:9"), false);
});

Deno.test("certificateMatchesHost reads IPs with the program's one parser (src/core/ip.ts)", () => {
  const v4Cn = leafWith({ cn: "10.0.0.5" });
  assert.equal(certificateMatchesHost(v4Cn, "::ffff:10.0.0.5"), false, "IPv4 is not IPv4-mapped");
  const mapped = leafWith({ ipAddresses: ["::ffff:a00:5"] });
  assert.equal(certificateMatchesHost(mapped, "[::ffff:10.0.0.5]"), true);
  // inet_pton's grammar: a leading zero makes no address, so neither side is read as one.
  assert.equal(certificateMatchesHost(leafWith({ cn: "010.0.0.5" }), "10.0.0.5"), false);
  assert.equal(certificateMatchesHost(leafWith({ ipAddresses: ["10.0.0.5"] }), "010.0.0.5"), false);
});

Deno.test("certificateMatchesHost uses the CN only when there is no SAN DNS entry", () => {
  assert.equal(certificateMatchesHost(leafWith({ cn: "node1" }), "node1"), true);
  assert.equal(certificateMatchesHost(leafWith({ cn: "node1" }), "node2"), false);
  const ipOnly = leafWith({ cn: "node1", ipAddresses: ["10.0.0.5"] });
  assert.equal(certificateMatchesHost(ipOnly, "node1"), true);
  assert.equal(certificateMatchesHost(leafWith({ cn: "10.0.0.5" }), "10.0.0.5"), true);
  assert.equal(certificateMatchesHost(leafWith({}), "x"), false);
});

Deno.test("certificateMatchesHost works on leaves read from real certificates (IPv6 SAN)", async () => {
  const { v6Only, node, ca } = await pki();
  const v6 = (await checkTlsFiles({ cert: v6Only.cert, key: v6Only.key, ca: ca.cert })).leaf;
  assert.deepEqual(v6.ipAddresses, ["::1"]);
  assert.equal(certificateMatchesHost(v6, "[0:0:0:0:0:0:0:1]"), true);
  assert.equal(certificateMatchesHost(v6, "v6-cn"), true, "no SAN DNS: CN counts");
  const n1 = (await checkTlsFiles({ cert: node.cert, key: node.key, ca: ca.cert })).leaf;
  assert.equal(certificateMatchesHost(n1, "node1.example"), true);
  assert.equal(certificateMatchesHost(n1, "127.0.0.1"), true);
  assert.equal(certificateMatchesHost(n1, "node1"), false, "CN ignored: SAN DNS present");
});

// ---------------------------------------------------------------------------------------------
// Real socat: harness

interface Listener {
  port: number;
  /** Waits (bounded) for the single-connection listener to end; returns its stderr. */
  finish(): Promise<string>;
}

/** `socat -d -d OPENSSL-LISTEN:0,…` on 127.0.0.1 echoing data back; one connection. */
async function listenTls(opts: string): Promise<Listener> {
  const child = denoAdapter.spawn({
    cmd: "socat",
    args: ["-d", "-d", `OPENSSL-LISTEN:0,bind=127.0.0.1,reuseaddr,${opts}`, "PIPE"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
  let text = "";
  const reader = (async () => {
    for await (const chunk of child.stderr!.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  const finish = async () => {
    if (!(await settlesWithin(child.status, 5000))) await stop(child, 1000);
    await settlesWithin(reader, 2000);
    return text;
  };
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && !child.exited) {
    const port = Number(text.match(/listening on AF=2 127\.0\.0\.1:(\d+)/)?.[1] ?? 0);
    if (port > 0) return { port, finish };
    await sleep(20);
  }
  await stop(child, 1000);
  throw new Error(`socat listener did not start: ${await finish()}`);
}

/** `socat -d OPENSSL:127.0.0.1:<port>,no-sni=1,…` sending one line. */
function connectTls(port: number, opts: string): Promise<RunResult> {
  return run(denoAdapter, {
    cmd: "socat",
    args: ["-d", `OPENSSL:127.0.0.1:${port},no-sni=1,${opts}`, "STDIO"],
  }, { timeoutMs: 10_000, input: "hello\n" });
}

function tls(leaf: Leaf | null, ca: Ca): string {
  const own = leaf ? `cert=${leaf.cert},key=${leaf.key},` : "";
  return `${own}cafile=${ca.cert},verify=1`;
}

interface Handshake {
  client: RunResult;
  server: string;
}

async function handshake(
  server: Leaf,
  client: Leaf | null,
  commonname: string,
  ca?: Ca,
): Promise<Handshake> {
  const trust = ca ?? (await pki()).ca;
  const l = await listenTls(tls(server, (await pki()).ca));
  try {
    const c = await connectTls(l.port, `${tls(client, trust)},commonname=${commonname}`);
    return { client: c, server: await l.finish() };
  } finally {
    await l.finish();
  }
}

function assertSucceeded(h: Handshake): void {
  assert.equal(h.client.code, 0, `client failed: ${h.client.stderr} / server: ${h.server}`);
  assert.equal(h.client.stdout, "hello\n");
}

function assertFailure(
  stderr: string,
  kind: TlsFailure["kind"],
  origin: "local" | "remote",
  detail: RegExp,
): TlsFailure {
  const f = classifySocatTlsError(stderr);
  assert.ok(f, `no TLS failure recognised in: ${stderr}`);
  assert.equal(f.kind, kind, stderr);
  assert.equal(f.origin, origin, stderr);
  assert.match(f.detail, detail);
  const line = describeTlsFailure(f, "joiner 127.0.0.1:4444");
  assert.ok(!line.includes("\n") && line.includes("127.0.0.1:4444"), line);
  return f;
}

// ---------------------------------------------------------------------------------------------
// Real socat: how it checks names (the findings in certificates.ts's module comment)

Deno.test("socat 1.7.4.4 commonname= matches a SAN DNS entry (and the harness passes data)", async () => {
  const { dnsOnly } = await pki();
  assertSucceeded(await handshake(dnsOnly, (await pki()).node2, "dnsonly.example"));
});

Deno.test("socat 1.7.4.4 commonname= matches a SAN IP entry, and a different IP fails", async () => {
  const { ipOnly, node2 } = await pki();
  assertSucceeded(await handshake(ipOnly, node2, "127.0.0.1"));
  const bad = await handshake(ipOnly, node2, "127.0.0.2");
  assert.notEqual(bad.client.code, 0);
  assertFailure(bad.client.stderr, "name-mismatch", "local", /hostname "127\.0\.0\.2"/);
});

Deno.test("socat 1.7.4.4 falls back to the CN even when the certificate has SANs; names are case-sensitive", async () => {
  const { dnsOnly, node2 } = await pki();
  assertSucceeded(await handshake(dnsOnly, node2, "dnsonly-cn"));
  const upper = await handshake(dnsOnly, node2, "DNSONLY.example");
  assert.notEqual(upper.client.code, 0);
  assertFailure(upper.client.stderr, "name-mismatch", "local", /commonName does not match/);
});

Deno.test("socat 1.7.4.4 name mismatch: 'certificate is valid but its commonName does not match hostname'", async () => {
  const { node, node2 } = await pki();
  const h = await handshake(node, node2, "wrong.example");
  assert.notEqual(h.client.code, 0);
  assert.match(
    h.client.stderr,
    /E certificate is valid but its commonName does not match hostname "wrong\.example"/,
  );
  assertFailure(
    h.client.stderr,
    "name-mismatch",
    "local",
    /^certificate is valid but its commonName/,
  );
});

Deno.test("socat 1.7.4.4 with an IPv6 SAN aborts on a non-IPv6 name via getaddrinfo (classified as name-mismatch)", async () => {
  const { v6Only, node2 } = await pki();
  const h = await handshake(v6Only, node2, "127.0.0.1");
  assert.notEqual(h.client.code, 0);
  assert.match(h.client.stderr, /getaddrinfo\("127\.0\.0\.1", "NULL", \{1,10,0,0\}, \{\}\)/);
  assertFailure(h.client.stderr, "name-mismatch", "local", /IPv6 subjectAltName/);
  assertSucceeded(await handshake(v6Only, node2, "0:0:0:0:0:0:0:1"));
});

// ---------------------------------------------------------------------------------------------
// Real socat: failures and their classification

Deno.test("socat untrusted CA: verifier says only 'certificate verify failed', the rejected side 'unknown ca'", async () => {
  const { stranger, node2 } = await pki();
  const h = await handshake(stranger, node2, "node1.example");
  assert.notEqual(h.client.code, 0);
  assert.match(
    h.client.stderr,
    /SSL_connect\(\): error:0A000086:SSL routines::certificate verify failed/,
  );
  const local = assertFailure(h.client.stderr, "untrusted", "local", /^certificate verify failed$/);
  assert.match(describeTlsFailure(local, "joiner"), /not issued by a CA in our \[sst\] tca/);
  assertFailure(h.server, "untrusted", "remote", /^tlsv1 alert unknown ca$/);
});

Deno.test("socat expired certificate: the expired side gets 'sslv3 alert certificate expired'", async () => {
  const { expired, node2 } = await pki();
  const h = await handshake(expired, node2, "node1.example");
  assert.notEqual(h.client.code, 0);
  assertFailure(h.client.stderr, "untrusted", "local", /certificate verify failed/);
  const f = assertFailure(h.server, "expired", "remote", /^sslv3 alert certificate expired$/);
  assert.match(describeTlsFailure(f, "donor"), /renew our \[sst\] tcert/);
});

Deno.test("socat not-yet-valid certificate: the rejected side only gets 'sslv3 alert bad certificate'", async () => {
  const { future, node2 } = await pki();
  const h = await handshake(future, node2, "node1.example");
  assert.notEqual(h.client.code, 0);
  assertFailure(h.server, "untrusted", "remote", /^sslv3 alert bad certificate$/);
});

Deno.test("socat client without certificate: listener 'peer did not return a certificate'; client learns it only on write", async () => {
  const { node } = await pki();
  const h = await handshake(node, null, "node1.example");
  const local = assertFailure(
    h.server,
    "no-peer-cert",
    "local",
    /peer did not return a certificate/,
  );
  assert.match(
    describeTlsFailure(local, "donor 10.0.0.2"),
    /set \[sst\] tcert \(and tkey\) on donor/,
  );
  // TLS 1.3: the client's handshake is over before the listener checks it; socat 1.7.4.4 then
  // sees the alert only in SSL_write ("tlsv13 alert certificate required") and may even exit 0
  // when it reads EOF first. So the listener's log is the one to trust for client certificates.
  const seen = classifySocatTlsError(h.client.stderr);
  if (seen) assert.deepEqual([seen.kind, seen.origin], ["no-peer-cert", "remote"]);
  const observed = "2026/11/27 23:14:59 socat[4725] E SSL_write(): error:0A00045C:SSL routines::" +
    "tlsv13 alert certificate required";
  assertFailure(observed, "no-peer-cert", "remote", /^tlsv13 alert certificate required$/);
});

Deno.test("socat enforces purposes: listener cert needs serverAuth, client cert needs clientAuth", async () => {
  const { clientOnly, serverOnly, node, node2 } = await pki();
  const a = await handshake(clientOnly, node2, "node1.example");
  assert.notEqual(a.client.code, 0);
  assertFailure(a.server, "untrusted", "remote", /^sslv3 alert unsupported certificate$/);
  const b = await handshake(node, serverOnly, "node1.example");
  assertFailure(b.server, "untrusted", "local", /^certificate verify failed$/);
});

/** A plain TCP listener: reads the ClientHello, then writes junk (or nothing) and closes. */
function plainServer(reply: string | null): { port: number; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const timer = setTimeout(() => listener.close(), 10_000);
    try {
      const conn = await listener.accept();
      try {
        await conn.read(new Uint8Array(4096));
        if (reply !== null) {
          await conn.write(new TextEncoder().encode(reply));
          await Promise.race([conn.read(new Uint8Array(4096)), sleep(3000)]);
        }
      } finally {
        conn.close();
      }
    } catch {
      /* listener closed by the timer */
    } finally {
      clearTimeout(timer);
      try {
        listener.close();
      } catch { /* already closed */ }
    }
  })();
  return { port: (listener.addr as Deno.NetAddr).port, done };
}

Deno.test("socat speaking TLS to a plaintext peer that answers junk: 'wrong version number' is not-tls", async () => {
  const { node, ca } = await pki();
  const s = plainServer("@RSYNCD: 31.0\nHTTP/1.1 400 Bad Request\r\n\r\n");
  const c = await connectTls(s.port, `${tls(node, ca)},commonname=node1.example`);
  await s.done;
  assert.notEqual(c.code, 0);
  const f = assertFailure(c.stderr, "not-tls", "local", /^wrong version number$/);
  assert.match(describeTlsFailure(f, "joiner"), /joiner is not speaking TLS/);
});

Deno.test("socat speaking TLS to a peer that closes silently: 'unexpected eof while reading' is not-tls", async () => {
  const { node, ca } = await pki();
  const s = plainServer(null);
  const c = await connectTls(s.port, `${tls(node, ca)},commonname=node1.example`);
  await s.done;
  assert.notEqual(c.code, 0);
  assertFailure(c.stderr, "not-tls", "local", /unexpected eof while reading/);
});

Deno.test("socat TLS listener receiving plaintext (an rsync greeting): 'wrong version number' is not-tls", async () => {
  const { node } = await pki();
  const l = await listenTls(tls(node, (await pki()).ca));
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: l.port });
    try {
      await conn.write(new TextEncoder().encode("@RSYNCD: 31.0\n"));
      await Promise.race([conn.read(new Uint8Array(4096)).catch(() => null), sleep(3000)]);
    } finally {
      conn.close();
    }
  } finally {
    assertFailure(await l.finish(), "not-tls", "local", /^wrong version number$/);
  }
});

// ---------------------------------------------------------------------------------------------
// Classification of texts other versions print

Deno.test("classifySocatTlsError prefers the X509 reason over the generic 'certificate verify failed'", () => {
  const text = "2024/01/01 00:00:00 socat[1] E SSL_connect(): error:1416F086:SSL routines:" +
    "tls_process_server_certificate:certificate verify failed\n" +
    "2024/01/01 00:00:00 socat[1] E unable to get local issuer certificate\n";
  assert.deepEqual(classifySocatTlsError(text), {
    kind: "untrusted",
    detail: "unable to get local issuer certificate",
    origin: "local",
  });
  assert.equal(classifySocatTlsError("E certificate has expired")?.kind, "expired");
  assert.equal(classifySocatTlsError("E certificate is not yet valid")?.kind, "not-yet-valid");
  assert.equal(
    classifySocatTlsError("E error:1408F10B:SSL routines:x:packet length too long")?.kind,
    "not-tls",
  );
  assert.equal(
    classifySocatTlsError("E error:0A00009C:SSL routines::http request")?.kind,
    "not-tls",
  );
});

Deno.test("classifySocatTlsError returns null for non-TLS errors and ignores notice lines", () => {
  assert.equal(
    classifySocatTlsError(
      "2024/01/01 00:00:00 socat[1] E connect(5, AF=2 10.0.0.2:4444, 16): Connection refused\n",
    ),
    null,
  );
  assert.equal(
    classifySocatTlsError("2024/01/01 00:00:00 socat[1] N no peer certificate and no check\n"),
    null,
  );
  assert.equal(classifySocatTlsError(""), null);
});

Deno.test("describeTlsFailure gives one line naming the peer for every kind", () => {
  const kinds: TlsFailure["kind"][] = [
    "untrusted",
    "expired",
    "not-yet-valid",
    "name-mismatch",
    "not-tls",
    "no-peer-cert",
    "other",
  ];
  for (const kind of kinds) {
    for (const origin of ["local", "remote"] as const) {
      const line = describeTlsFailure({ kind, detail: "some\nreason", origin }, "joiner 10.0.0.9");
      assert.ok(!line.includes("\n"), line);
      assert.ok(line.includes("joiner 10.0.0.9") && line.includes("some reason"), line);
    }
  }
});
