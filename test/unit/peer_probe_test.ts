import { assertEquals, assertRejects } from "../support/assert.ts";
import { choosePeerName } from "../../src/tunnel/peer_probe.ts";
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
