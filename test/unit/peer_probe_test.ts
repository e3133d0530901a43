import { assertEquals, assertRejects } from "../support/assert.ts";
import { choosePeerName, identityOf, peerNameCandidates } from "../../src/tunnel/peer_probe.ts";
import {
  type Child,
  denoAdapter,
  type ProcessAdapter,
  type SpawnSpec,
} from "../../src/proc/process.ts";
import type { Host } from "../../src/core/address.ts";
import type { CertificateInfo } from "../../src/tunnel/certificates.ts";
import { SstError } from "../../src/core/errors.ts";

function leaf(cn: string | undefined, dns: string[], ips: string[]): CertificateInfo {
  return {
    subject: cn ? `CN=${cn}` : "",
    cn,
    dnsNames: dns,
    ipAddresses: ips,
    notBefore: new Date(0),
    notAfter: new Date(8.64e15),
    fingerprint256: "00",
  };
}

Deno.test("the resolver's name is checked when the certificate carries it", () => {
  assertEquals(choosePeerName(leaf("x", ["node2"], []), ["node2", "10.0.0.2"], "p"), "node2");
});

Deno.test("the IP is checked when the certificate carries only a SAN IP entry", () => {
  assertEquals(choosePeerName(leaf("x", [], ["10.0.0.2"]), ["node2", "10.0.0.2"], "p"), "10.0.0.2");
});

Deno.test("a DNS name matching a SAN DNS entry is checked even when the certificate has IPv6 SANs", () => {
  const l = leaf("localhost", ["localhost"], ["::1"]);
  assertEquals(choosePeerName(l, ["localhost", "::1"], "p"), "localhost");
});

Deno.test("without SAN DNS entries but with an IPv6 SAN, the IPv6 address is checked (socat 1.7.4)", () => {
  assertEquals(choosePeerName(leaf("x", [], ["::1"]), ["localhost", "::1"], "p"), "::1");
});

Deno.test("an IPv4 SAN listed after an IPv6 SAN cannot be checked by socat 1.7.4: refused with the fix", async () => {
  const l = leaf("x", [], ["127.0.0.1", "::1", "10.78.0.2"]);
  await assertRejects(
    () => choosePeerName(l, ["10.78.0.2"], "10.78.0.2:4444"),
    SstError,
    /issued for '10\.78\.0\.2', but socat 1\.7\.4 cannot check an IPv4 address listed after an IPv6/,
  );
  assertEquals(
    choosePeerName(leaf("x", [], ["10.78.0.2", "::1"]), ["10.78.0.2"], "p"),
    "10.78.0.2",
  );
});

Deno.test("a certificate for another name is refused with both candidates and the fix named", async () => {
  const e = await assertRejects(
    () => choosePeerName(leaf("nodeX", ["nodeX"], []), ["node2", "10.0.0.2"], "10.0.0.2:4444"),
    SstError,
    /not issued for 'node2' or '10\.0\.0\.2'; reissue .* DNS:node2/,
  );
  assertEquals((e as SstError).exitCode, 129);
});

/** A resolver (`getent hosts` / `getent ahosts`) that knows `reverse` and `forward`. */
function resolver(reverse: Record<string, string>, forward: Record<string, string[]>) {
  const asked: string[] = [];
  const adapter: ProcessAdapter = {
    spawn(spec: SpawnSpec): Child {
      if (spec.cmd !== "getent") return denoAdapter.spawn(spec);
      const [db, key] = spec.args;
      asked.push(`${db} ${key}`);
      const out = db === "hosts"
        ? (reverse[key] ? `${key}       ${reverse[key]}\n` : "")
        : (forward[key] ?? []).map((ip) => `${ip}    STREAM ${key}\n`).join("");
      return denoAdapter.spawn({
        ...spec,
        cmd: "sh",
        args: ["-c", 'printf "%s" "$1"; [ -n "$1" ]', "sh", out],
      });
    },
  };
  return { adapter, asked };
}

const IP: Host = { kind: "ipv4", address: "10.0.0.2" };

Deno.test("an IP's reverse name is a candidate only when it resolves back to the IP, after the IP itself", async () => {
  const confirmed = resolver({ "10.0.0.2": "node2" }, { node2: ["10.0.0.2"] });
  assertEquals(await peerNameCandidates(confirmed.adapter, IP), ["10.0.0.2", "node2"]);
  assertEquals(confirmed.asked, ["hosts 10.0.0.2", "ahosts node2"]);

  // Whoever controls the reverse zone names the IP 'db1', which resolves elsewhere.
  const forged = resolver({ "10.0.0.2": "db1" }, { db1: ["10.9.9.9"] });
  assertEquals(await peerNameCandidates(forged.adapter, IP), ["10.0.0.2"]);
  const unknown = resolver({ "10.0.0.2": "db1" }, {});
  assertEquals(await peerNameCandidates(unknown.adapter, IP), ["10.0.0.2"]);
  assertEquals(await peerNameCandidates(resolver({}, {}).adapter, IP), ["10.0.0.2"]);
});

Deno.test("a certificate issued only for a forged reverse name is refused; one with the IP SAN is checked by IP", async () => {
  const forged = resolver({ "10.0.0.2": "db1" }, { db1: ["10.9.9.9"] });
  const candidates = await peerNameCandidates(forged.adapter, IP);
  await assertRejects(
    () => choosePeerName(leaf("db1", ["db1"], []), candidates, "10.0.0.2:4444"),
    SstError,
    /not issued for '10\.0\.0\.2'/,
  );
  const both = leaf("node2", ["node2"], ["10.0.0.2"]);
  assertEquals(choosePeerName(both, ["10.0.0.2", "node2"], "p"), "10.0.0.2");
  assertEquals(identityOf("10.0.0.2", IP), "a subjectAltName IP entry or the common name");
  assertEquals(
    identityOf("node2", IP),
    "the resolver's name for 10.0.0.2, which resolves back to it",
  );
});

Deno.test("an IPv6 address written another way still counts as resolving back", async () => {
  const v6: Host = { kind: "ipv6", address: "fd00:0:0::2" };
  const r = resolver({ "fd00:0:0::2": "node2" }, { node2: ["fd00::2"] });
  assertEquals(await peerNameCandidates(r.adapter, v6), ["fd00:0:0::2", "node2"]);
});
