import { assertEquals, assertRejects } from "../support/assert.ts";
import { choosePeerName } from "../../src/tunnel/peer_probe.ts";
import type { CertificateInfo } from "../../src/tunnel/certificates.ts";
import { SstError } from "../../src/sst/errors.ts";

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

Deno.test("with IPv6 SAN entries an IP candidate wins over a DNS name (socat 1.7.4 quirk)", () => {
  const l = leaf("localhost", ["localhost"], ["::1"]);
  assertEquals(choosePeerName(l, ["localhost", "::1"], "p"), "::1");
});

Deno.test("a certificate for another name is refused with both candidates and the fix named", async () => {
  const e = await assertRejects(
    () => choosePeerName(leaf("nodeX", ["nodeX"], []), ["node2", "10.0.0.2"], "10.0.0.2:4444"),
    SstError,
    /not issued for 'node2' or '10\.0\.0\.2'; reissue .* DNS:node2/,
  );
  assertEquals((e as SstError).exitCode, 129);
});
