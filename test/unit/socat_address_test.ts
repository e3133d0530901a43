/**
 * Unit tests for socat address construction (src/tunnel/socat_address.ts, with `sockopt` from
 * src/config/sockopt.ts): every value put
 * into a socat address is validated, `sockopt` is parsed token by token, and the listener,
 * connector and EXEC addresses have an exact, predictable shape.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import {
  connectAddress,
  type ConnectSpec,
  disablesVerification,
  listenAddress,
  type ListenSpec,
  rsyncServerExec,
  socatSafe,
  type TlsOptions,
} from "../../src/tunnel/socat_address.ts";
import { parseSockopt } from "../../src/config/sockopt.ts";
import { ConfigError } from "../../src/core/errors.ts";

const TLS: TlsOptions = {
  certFile: "/etc/mysql/ssl/node.crt",
  keyFile: "/etc/mysql/ssl/node.key",
  caFile: "/etc/mysql/ssl/ca.crt",
};
const TLS_TEXT =
  "cert=/etc/mysql/ssl/node.crt,key=/etc/mysql/ssl/node.key,cafile=/etc/mysql/ssl/ca.crt,verify=1";

Deno.test("socat: socatSafe rejects every character socat interprets", async () => {
  const bad = [",", ":", "!", "'", '"', "\\", "(", ")", "[", "]", "{", "}", " ", "\r", "\n", "\0"];
  for (const c of bad) {
    const e = await assertRejects(
      () => socatSafe("[sst] tcert", `/etc/ssl/a${c}b.pem`),
      ConfigError,
      /\[sst\] tcert=/,
    );
    assertEquals((e as ConfigError).exitCode, 22, `for ${JSON.stringify(c)}`);
  }
});

Deno.test("socat: socatSafe rejects the empty string", async () => {
  await assertRejects(() => socatSafe("x", ""), ConfigError);
});

Deno.test("socat: socatSafe returns normal absolute paths unchanged", () => {
  for (
    const p of [
      "/etc/mysql/ssl/server-cert.pem",
      "/var/lib/mysql/ca+bundle~1.pem",
      "/srv/ssl/node_1.example.com@v2.pem",
      "/opt/x%y/k.key",
    ]
  ) {
    assertEquals(socatSafe("path", p), p);
  }
});

Deno.test("socat: parseSockopt of undefined, empty or blank is no tokens", () => {
  assertEquals(parseSockopt(undefined), []);
  assertEquals(parseSockopt(""), []);
  assertEquals(parseSockopt("   "), []);
});

Deno.test("socat: parseSockopt parses cipher=HIGH", () => {
  assertEquals(parseSockopt("cipher=HIGH"), [{ name: "cipher", value: "HIGH" }]);
});

Deno.test("socat: parseSockopt tolerates one leading comma (mariabackup style ',opt')", () => {
  assertEquals(parseSockopt(",cipher=HIGH"), [{ name: "cipher", value: "HIGH" }]);
});

Deno.test("socat: parseSockopt parses several tokens, bare names, lower-cases names", () => {
  assertEquals(parseSockopt("Cipher=HIGH:!aNULL,no-sni=1,nodelay"), [
    { name: "cipher", value: "HIGH:!aNULL" },
    { name: "no-sni", value: "1" },
    { name: "nodelay", value: null },
  ]);
});

Deno.test("socat: verify=0 is detected as disabling verification, verify=1 is not", () => {
  assertEquals(disablesVerification(parseSockopt("verify=0")), true);
  assertEquals(disablesVerification(parseSockopt("cipher=HIGH,VERIFY=off")), true);
  assertEquals(disablesVerification(parseSockopt("verify=no")), true);
  assertEquals(disablesVerification(parseSockopt("verify=1")), false);
  assertEquals(disablesVerification(parseSockopt("cipher=HIGH")), false);
  assertEquals(disablesVerification([]), false);
});

Deno.test("socat: parseSockopt rejects CR/LF, spaces, quotes, !!, backslash and $", async () => {
  const bad = [
    "cipher=HIGH\r\nexec=sh",
    "cipher=HIGH\nverify=0",
    "cipher=HIGH\rverify=0",
    "cipher=HIGH,exec=a b",
    "cipher='HIGH'",
    'cipher="HIGH"',
    "cipher=HIGH!!exec:sh",
    "cipher=HIGH\\,x",
    "cipher=$HOME",
    "cipher=`id`",
    "cipher=(x)",
    "cipher=[x]",
    "cipher={x}",
    "cipher=HIGH\tverify=0",
  ];
  for (const raw of bad) {
    const e = await assertRejects(() => parseSockopt(raw), ConfigError, /sockopt/);
    assertEquals((e as ConfigError).exitCode, 22, `for ${JSON.stringify(raw)}`);
  }
});

Deno.test("socat: parseSockopt rejects empty tokens and names that are not option names", async () => {
  for (const raw of ["cipher=HIGH,", ",,cipher=HIGH", "a,,b", "=x", "1opt=2", "op_t=1", "a=b=c;"]) {
    await assertRejects(() => parseSockopt(raw), ConfigError, /sockopt/);
  }
});

function listen(over: Partial<ListenSpec>): ListenSpec {
  return {
    port: 4444,
    ipv6: false,
    maxChildren: 16,
    tls: TLS,
    sockopt: [],
    socatVersion: "1.7.4.4",
    ...over,
  };
}

Deno.test("socat: listenAddress for an IPv4 bind, with sockopt appended last (an operator's nodelay replaces ours)", () => {
  assertEquals(
    listenAddress(listen({
      bind: { kind: "ipv4", address: "192.168.1.10" },
      sockopt: parseSockopt("cipher=HIGH,nodelay"),
    })),
    "OPENSSL-LISTEN:4444,reuseaddr,fork,max-children=16,pf=ip4,bind=192.168.1.10," +
      `${TLS_TEXT},cipher=HIGH,nodelay`,
  );
});

Deno.test("socat: listenAddress on all interfaces has no bind (IPv4 and IPv6)", () => {
  assertEquals(
    listenAddress(listen({ port: 4567, maxChildren: 32 })),
    `OPENSSL-LISTEN:4567,reuseaddr,fork,max-children=32,nodelay,pf=ip4,${TLS_TEXT}`,
  );
  assertEquals(
    listenAddress(listen({ ipv6: true })),
    `OPENSSL-LISTEN:4444,reuseaddr,fork,max-children=16,nodelay,pf=ip6,${TLS_TEXT}`,
  );
});

Deno.test("socat: listenAddress with a CA directory adds capath before verify=1", () => {
  assertEquals(
    listenAddress(listen({
      tls: { certFile: "/c.pem", keyFile: "/k.pem", caPath: "/etc/ssl/certs" },
    })),
    "OPENSSL-LISTEN:4444,reuseaddr,fork,max-children=16,nodelay,pf=ip4," +
      "cert=/c.pem,key=/k.pem,capath=/etc/ssl/certs,verify=1",
  );
});

Deno.test("socat: listenAddress rejects a certificate path socat would split", async () => {
  await assertRejects(
    () => listenAddress(listen({ tls: { ...TLS, certFile: "/etc/ssl/my cert.pem" } })),
    ConfigError,
    /\[sst\] tcert/,
  );
  await assertRejects(
    () => listenAddress(listen({ tls: { ...TLS, keyFile: "/k,fork.pem" } })),
    ConfigError,
    /\[sst\] tkey/,
  );
  await assertRejects(
    () => listenAddress(listen({ tls: { ...TLS, caFile: "/ca:x.pem" } })),
    ConfigError,
    /\[sst\] tca/,
  );
});

Deno.test({
  name: "socat: listenAddress for an IPv6 bind gives bind=[addr] and pf=ip6",
  fn: () => {
    assertEquals(
      listenAddress(listen({ bind: { kind: "ipv6", address: "fe80::1" }, ipv6: true })),
      `OPENSSL-LISTEN:4444,reuseaddr,fork,max-children=16,nodelay,pf=ip6,bind=[fe80::1],${TLS_TEXT}`,
    );
  },
});

function connect(over: Partial<ConnectSpec>): ConnectSpec {
  return {
    host: { kind: "ipv4", address: "192.168.1.11" },
    port: 4444,
    peerName: "node2.example.com",
    connectTimeoutSec: 30,
    tls: TLS,
    sockopt: [],
    ...over,
  };
}

Deno.test("socat: connectAddress for IPv4: TLS, commonname, no-sni, timeout, pf, sockopt last", () => {
  assertEquals(
    connectAddress(connect({ sockopt: parseSockopt("cipher=HIGH") })),
    `OPENSSL:192.168.1.11:4444,${TLS_TEXT},commonname=node2.example.com,no-sni=1,` +
      "connect-timeout=30,nodelay,pf=ip4,cipher=HIGH",
  );
});

Deno.test("socat: connectAddress for a host name has no pf option", () => {
  assertEquals(
    connectAddress(connect({
      host: { kind: "name", name: "node2.example.com" },
      port: 4567,
      connectTimeoutSec: 5,
    })),
    `OPENSSL:node2.example.com:4567,${TLS_TEXT},commonname=node2.example.com,no-sni=1,` +
      "connect-timeout=5,nodelay",
  );
});

Deno.test("socat: connectAddress rejects a certificate name socat would interpret", async () => {
  for (const name of ["a,verify=0", "a b", "a!!b", "x'y"]) {
    await assertRejects(
      () => connectAddress(connect({ peerName: name })),
      ConfigError,
      /joiner certificate name/,
    );
  }
});

Deno.test({
  name: "socat: connectAddress for IPv6 brackets the host and adds pf=ip6",
  fn: () => {
    assertEquals(
      connectAddress(connect({ host: { kind: "ipv6", address: "fe80::1" } })),
      `OPENSSL:[fe80::1]:4444,${TLS_TEXT},commonname=node2.example.com,no-sni=1,` +
        "connect-timeout=30,nodelay,pf=ip6",
    );
  },
});

Deno.test("socat: the verify=1 we emit comes before operator sockopt", () => {
  const addr = connectAddress(connect({ sockopt: parseSockopt("verify=0") }));
  assert(addr.indexOf("verify=1") < addr.indexOf("verify=0"));
  assert(addr.endsWith(",verify=0"));
});

Deno.test("socat: rsyncServerExec exact output", () => {
  assertEquals(
    rsyncServerExec("/usr/bin/rsync", "/tmp/sst.a1b2/rsyncd.conf"),
    "EXEC:/usr/bin/rsync --server --daemon --config=/tmp/sst.a1b2/rsyncd.conf .,end-close",
  );
});

Deno.test("socat: rsyncServerExec rejects a config path with a space (and a bad rsync path)", async () => {
  await assertRejects(
    () => rsyncServerExec("/usr/bin/rsync", "/tmp/my dir/rsyncd.conf"),
    ConfigError,
    /rsync daemon config path/,
  );
  await assertRejects(
    () => rsyncServerExec("/usr/bin/rsync,fork", "/tmp/rsyncd.conf"),
    ConfigError,
    /rsync path/,
  );
});

Deno.test("sockopt: options that change socat's process or connection plumbing are refused", async () => {
  const { parseSockopt } = await import("../../src/config/sockopt.ts");
  const { ConfigError } = await import("../../src/core/errors.ts");
  for (
    const bad of ["fork", "cipher=HIGH,su=nobody", "setuid=0", "chroot=/tmp", "max-children=999"]
  ) {
    let thrown: unknown = null;
    try {
      parseSockopt(bad);
    } catch (e) {
      thrown = e;
    }
    if (!(thrown instanceof ConfigError)) throw new Error(`${bad} was accepted`);
    if (!/changes how socat runs/.test((thrown as Error).message)) throw thrown as Error;
  }
  if (parseSockopt("cipher=HIGH,verify=0").length !== 2) throw new Error("TLS options refused");
});

Deno.test("socat: listenAddress adds an empty commonname= only for socat 1.7.4.0 and 1.7.4.1", () => {
  for (
    const [version, extra] of [
      ["1.7.4.1", ",commonname="],
      ["1.7.4.0", ",commonname="],
      ["1.7.4.4", ""],
      ["1.8.0.3", ""],
      ["1.7.4.10", ""],
    ]
  ) {
    assertEquals(
      listenAddress(listen({ socatVersion: version })),
      `OPENSSL-LISTEN:4444,reuseaddr,fork,max-children=16,nodelay,pf=ip4,${TLS_TEXT}${extra}`,
      `socat ${version}`,
    );
  }
});
