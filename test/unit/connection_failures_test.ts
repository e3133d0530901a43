/**
 * The one classification of failed connections (connection_failures.ts) on output captured
 * from the real tools (OpenSSL 3.0.22 `s_client`, socat 1.7.4.4, `LC_ALL=C`): the network before
 * TLS, and socat's IPv6 name-check quirk still a name mismatch.
 */
import { assertEquals, assertMatch } from "../support/assert.ts";
import {
  classifyConnectionFailure,
  connectionError,
} from "../../src/tunnel/connection_failures.ts";

/** `openssl s_client -connect no-such-host.invalid:4444`. */
const S_CLIENT_UNRESOLVED =
  "40E7D97A487F0000:error:10080002:BIO routines:BIO_lookup_ex:system lib:../crypto/bio/bio_addr.c:746:Name or service not known\n" +
  "connect:errno=0\n";
/** `openssl s_client -connect 127.0.0.1:1`. */
const S_CLIENT_REFUSED =
  "402750C1607F0000:error:8000006F:system library:BIO_connect:Connection refused:../crypto/bio/bio_sock2.c:117:calling connect()\n" +
  "402750C1607F0000:error:10000067:BIO routines:BIO_connect:connect error:../crypto/bio/bio_sock2.c:119:\n" +
  "connect:errno=111\n";
/** `openssl s_client -connect [2001:db8::1]:4444` without an IPv6 route. */
const S_CLIENT_NO_ROUTE =
  "40771D39A97F0000:error:80000071:system library:BIO_connect:No route to host:../crypto/bio/bio_sock2.c:117:calling connect()\n" +
  "40771D39A97F0000:error:10000067:BIO routines:BIO_connect:connect error:../crypto/bio/bio_sock2.c:119:\n" +
  "connect:errno=113\n";
/** `socat STDIO OPENSSL:no-such-host.invalid:4444,verify=0`. */
const SOCAT_UNRESOLVED =
  '2026/12/07 06:44:07 socat[19147] E getaddrinfo("no-such-host.invalid", "NULL", {1,0,1,6}, {}): Name or service not known\n';
/** `socat STDIO OPENSSL:127.0.0.1:1,verify=0`. */
const SOCAT_REFUSED =
  "2026/12/07 06:44:07 socat[19149] E connect(5, AF=2 127.0.0.1:1, 16): Connection refused\n";
/** socat 1.7.4 checking a non-IPv6 name against a certificate with an IPv6 SAN (certificates.ts). */
const SOCAT_IPV6_NAME_CHECK =
  '2026/12/07 06:44:07 socat[19150] E getaddrinfo("db1.example", "NULL", {1,10,0,0}, {}): Name or service not known\n';
/** s_client against a joiner whose CA we do not trust. */
const S_CLIENT_UNTRUSTED = "depth=0 CN = localhost\n" +
  "verify error:num=20:unable to get local issuer certificate\n" +
  "40C7:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889:\n" +
  "no peer certificate available\n";

Deno.test("a name that does not resolve: s_client and socat both give 'unresolved', exit 113 naming the name", () => {
  for (const out of [S_CLIENT_UNRESOLVED, SOCAT_UNRESOLVED]) {
    const f = classifyConnectionFailure(out);
    assertEquals(f?.layer, "network");
    assertEquals(f?.failure.kind, "unresolved");
    const e = connectionError(out, "no-such-host.invalid:4444");
    assertEquals(e.exitCode, 113);
    assertMatch(
      e.message,
      /^cannot resolve the joiner's name 'no-such-host\.invalid' \(Name or service not known\)/,
    );
  }
});

Deno.test("nothing listening: s_client and socat both give 'refused', exit 111, never the certificates", () => {
  for (const out of [S_CLIENT_REFUSED, SOCAT_REFUSED]) {
    const e = connectionError(out, "127.0.0.1:1");
    assertEquals(e.exitCode, 111);
    assertMatch(e.message, /^nothing listens at joiner 127\.0\.0\.1:1 \(connection refused\)/);
  }
});

Deno.test("no route to the joiner: exit 113 saying it is unreachable", () => {
  const e = connectionError(S_CLIENT_NO_ROUTE, "[2001:db8::1]:4444");
  assertEquals(e.exitCode, 113);
  assertMatch(e.message, /^joiner \[2001:db8::1\]:4444 is unreachable \(No route to host\)/);
});

Deno.test("socat's IPv6 name-check lookup failing stays a certificate name mismatch (129), and TLS verdicts are unchanged", () => {
  const quirk = classifyConnectionFailure(SOCAT_IPV6_NAME_CHECK);
  assertEquals(quirk?.layer, "tls");
  assertEquals(quirk?.failure.kind, "name-mismatch");
  assertEquals(connectionError(SOCAT_IPV6_NAME_CHECK, "db1.example:4444").exitCode, 129);
  const untrusted = connectionError(S_CLIENT_UNTRUSTED, "localhost:4444");
  assertEquals(untrusted.exitCode, 129);
  assertMatch(
    untrusted.message,
    /not issued by a CA in our \[sst\] tca\/tcapath \(unable to get local issuer/,
  );
});

Deno.test("unrecognised output: exit 32 quoting the first error line", () => {
  const e = connectionError("something else\nerror: odd\n", "h:1");
  assertEquals(e.exitCode, 32);
  assertMatch(e.message, /error: odd/);
});
