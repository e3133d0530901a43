/**
 * `[sst] donor-names` and the Galera TLS check, as pure decisions: which entries are valid, which
 * certificate names (as socat reports them to the donor gate) match, and when Galera's group
 * channel counts as encrypted.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { parseDonorNames } from "../../src/config/donor_names.ts";
import { galeraTlsOf } from "../../src/config/galera_tls.ts";
import { matchDonor, presentedNames } from "../../src/tunnel/donor_gate.ts";

const seen = (env: Record<string, string>) => presentedNames((n) => env[n]);

Deno.test("donor-names: DNS names and IPv4/IPv6 literals are accepted; CR/LF, spaces and socat specials are refused", () => {
  assertEquals(parseDonorNames("node1.example.com, 192.0.2.3,[2001:db8::1],n_2", "t"), [
    { kind: "dns", name: "node1.example.com" },
    { kind: "ip", address: "192.0.2.3" },
    { kind: "ip", address: "2001:db8::1" },
    { kind: "dns", name: "n_2" },
  ]);
  for (const bad of ["a\nb", "a\rb", "a b", "a!!b", "a:b", "x'y", "*.example.com", "-a", ""]) {
    let thrown: unknown = null;
    try {
      parseDonorNames(bad, "t");
    } catch (e) {
      thrown = e;
    }
    assert(thrown instanceof ConfigError, `refused: ${JSON.stringify(bad)}`);
  }
});

Deno.test("donor gate: SAN DNS (any case) and SAN IP (as addresses) match; the CN counts only without SAN", () => {
  const allowed = parseDonorNames("donor.example.test,2001:db8::7", "t");
  const san = seen({
    SOCAT_OPENSSL_X509V3_SUBJECTALTNAME_DNS: "other.test // DONOR.Example.test",
    SOCAT_OPENSSL_X509_COMMONNAME: "x",
  });
  assertEquals(matchDonor(allowed, san), { kind: "dns", name: "donor.example.test" });
  const ip = seen({ SOCAT_OPENSSL_X509V3_SUBJECTALTNAME_IPADD: "127.0.0.1 // 2001:DB8:0:0::7" });
  assertEquals(matchDonor(allowed, ip), { kind: "ip", address: "2001:db8::7" });
  const cnWithSan = seen({
    SOCAT_OPENSSL_X509V3_SUBJECTALTNAME_DNS: "rogue.test",
    SOCAT_OPENSSL_X509_COMMONNAME: "donor.example.test",
  });
  assertEquals(matchDonor(allowed, cnWithSan), null);
  const cnOnly = seen({ SOCAT_OPENSSL_X509_COMMONNAME: "donor.example.test" });
  assertEquals(matchDonor(allowed, cnOnly), { kind: "dns", name: "donor.example.test" });
  assertEquals(matchDonor(allowed, seen({})), null);
  const prefix = seen({ SOCAT_OPENSSL_X509V3_SUBJECTALTNAME_DNS: "donor.example.test.evil" });
  assertEquals(matchDonor(allowed, prefix), null);
});

Deno.test("galera tls: on with socket.ssl_cert and ssl_key or socket.ssl=yes or wsrep_ssl_mode=SERVER; off otherwise or with socket.ssl=no", () => {
  const kind = (p: string | undefined, m?: string) => galeraTlsOf(p, m).kind;
  assertEquals(kind(undefined), "off");
  assertEquals(kind("gcache.size=1G"), "off");
  assertEquals(kind("socket.ssl_cert=/c.pem;socket.ssl_key=/k.pem;socket.ssl_ca=/ca.pem"), "on");
  assertEquals(kind(" socket.ssl = yes ; gcache.size=1G"), "on");
  assertEquals(kind("socket.ssl_cert=/c.pem;socket.ssl_key=/k.pem;socket.ssl=no"), "off");
  assertEquals(kind("socket.ssl_cert=/c.pem"), "off");
  assertEquals(kind(undefined, "SERVER_X509"), "on");
  assertEquals(kind(undefined, "PROVIDER"), "off");
});
