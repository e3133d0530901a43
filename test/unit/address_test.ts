/**
 * Unit tests for SST addresses (src/core/address.ts, docs/sst-protocol.md §1.5): what mariadbd gives the joiner,
 * what the joiner advertises, what the donor accepts, and rejection of hostile input.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import {
  checkDonorPath,
  copyToken,
  DEFAULT_PORT,
  type Endpoint,
  formatReadyAddress,
  hostForAddress,
  hostText,
  joinerCopy,
  joinerServerVersion,
  parseEndpoint,
  parseHost,
  secretFromRemoteAuth,
} from "../../src/core/address.ts";
import { ConfigError, ExitCode, SstError } from "../../src/core/errors.ts";

const HEX32 = "86ff590328d774228de60a202c014da5";

Deno.test("address: IPv4 without port gets the default port 4444", () => {
  assertEquals(DEFAULT_PORT, 4444);
  assertEquals(parseEndpoint("192.168.1.10"), {
    host: { kind: "ipv4", address: "192.168.1.10" },
    port: 4444,
    path: [],
  });
});

Deno.test("address: IPv4 with port", () => {
  assertEquals(parseEndpoint("127.0.0.1:4424"), {
    host: { kind: "ipv4", address: "127.0.0.1" },
    port: 4424,
    path: [],
  });
});

Deno.test("address: bracketed IPv6 with port", () => {
  assertEquals(parseEndpoint("[fe80::1]:4444"), {
    host: { kind: "ipv6", address: "fe80::1" },
    port: 4444,
    path: [],
  });
  assertEquals(parseEndpoint("[2001:db8::5]:5555").port, 5555);
});

Deno.test("address: bracketed IPv6 without port gets 4444", () => {
  assertEquals(parseEndpoint("[2001:db8::5]"), {
    host: { kind: "ipv6", address: "2001:db8::5" },
    port: 4444,
    path: [],
  });
  assertEquals(parseEndpoint("[::1]").host, { kind: "ipv6", address: "::1" });
});

Deno.test("address: host names with and without port", () => {
  assertEquals(parseEndpoint("node1.example.com"), {
    host: { kind: "name", name: "node1.example.com" },
    port: 4444,
    path: [],
  });
  assertEquals(parseEndpoint("db-2:4567"), {
    host: { kind: "name", name: "db-2" },
    port: 4567,
    path: [],
  });
});

Deno.test("address: a trailing dot of a fully qualified name is dropped", () => {
  assertEquals(parseEndpoint("node1.example.com.:4444").host, {
    kind: "name",
    name: "node1.example.com",
  });
  assertEquals(parseHost("node1.example.com."), { kind: "name", name: "node1.example.com" });
});

Deno.test("address: module path and protocol version are parsed into path components", () => {
  assertEquals(parseEndpoint("127.0.0.1:4444/rsync_tunnel_sst/1"), {
    host: { kind: "ipv4", address: "127.0.0.1" },
    port: 4444,
    path: ["rsync_tunnel_sst", "1"],
  });
  assertEquals(parseEndpoint("[::1]:4444/rsync_tunnel_sst/1").path, ["rsync_tunnel_sst", "1"]);
  assertEquals(parseEndpoint("node.lab/rsync_sst").path, ["rsync_sst"]);
  assertEquals(parseEndpoint("node.lab/rsync_sst").port, 4444);
});

Deno.test("address: formatReadyAddress for IPv4, IPv6 (bracketed) and names", () => {
  assertEquals(
    formatReadyAddress({ kind: "ipv4", address: "10.0.0.1" }, 4444),
    "10.0.0.1:4444/rsync_tunnel_sst/1",
  );
  assertEquals(
    formatReadyAddress({ kind: "ipv6", address: "fe80::1" }, 4567),
    "[fe80::1]:4567/rsync_tunnel_sst/1",
  );
  assertEquals(
    formatReadyAddress({ kind: "name", name: "node.lab" }, 4444),
    "node.lab:4444/rsync_tunnel_sst/1",
  );
});

Deno.test("address: formatReadyAddress output parses back to the same host and port", () => {
  for (const raw of ["10.0.0.1", "[fe80::1]:4567", "node.lab:4444"]) {
    const ep = parseEndpoint(raw);
    const back = parseEndpoint(formatReadyAddress(ep.host, ep.port));
    assertEquals(back, { host: ep.host, port: ep.port, path: ["rsync_tunnel_sst", "1"] });
  }
});

Deno.test("address: hostText has no brackets; hostForAddress brackets IPv6 only", () => {
  assertEquals(hostText({ kind: "ipv6", address: "::1" }), "::1");
  assertEquals(hostForAddress({ kind: "ipv6", address: "::1" }), "[::1]");
  assertEquals(hostForAddress({ kind: "ipv4", address: "10.0.0.1" }), "10.0.0.1");
  assertEquals(hostForAddress({ kind: "name", name: "n.lab" }), "n.lab");
});

function donorEndpoint(raw: string): Endpoint {
  return parseEndpoint(raw);
}

Deno.test("address: checkDonorPath accepts our module and version", () => {
  const raw = "10.0.0.1:4444/rsync_tunnel_sst/1";
  assertEquals(checkDonorPath(donorEndpoint(raw), raw), undefined);
});

Deno.test("address: checkDonorPath rejects another module (stock rsync joiner) with exit 71", async () => {
  for (
    const raw of ["10.0.0.1:4444/rsync_sst", "10.0.0.1:4444", "10.0.0.1:4444/xtrabackup_sst//1"]
  ) {
    const e = await assertRejects(
      () => checkDonorPath(donorEndpoint(raw), raw),
      SstError,
      /not a rsync_tunnel_sst address/,
    );
    assertEquals((e as SstError).exitCode, ExitCode.protocol);
    assertEquals((e as SstError).exitCode, 71);
  }
});

Deno.test("address: checkDonorPath rejects a wrong or missing protocol version with exit 71", async () => {
  for (
    const [raw, version] of [
      ["10.0.0.1:4444/rsync_tunnel_sst/2", "2"],
      ["10.0.0.1:4444/rsync_tunnel_sst", ""],
      ["10.0.0.1:4444/rsync_tunnel_sst/", ""],
    ]
  ) {
    const e = await assertRejects(
      () => checkDonorPath(donorEndpoint(raw), raw),
      SstError,
      new RegExp(`protocol '${version}'`),
    );
    assertEquals((e as SstError).exitCode, 71);
  }
});

Deno.test("address: secretFromRemoteAuth takes plain hex", () => {
  assertEquals(secretFromRemoteAuth(HEX32), HEX32);
  assertEquals(secretFromRemoteAuth(`  ${HEX32}\n`), HEX32);
});

Deno.test("address: secretFromRemoteAuth takes the secret of the stock 'CN:secret' form", () => {
  assertEquals(secretFromRemoteAuth(`node.lab:${HEX32}`), HEX32);
  assertEquals(secretFromRemoteAuth(`a:b:${HEX32}`), HEX32);
});

Deno.test("address: secretFromRemoteAuth fails closed (exit 71) on missing/empty/short/non-hex", async () => {
  for (
    const raw of [
      undefined,
      "",
      "   ",
      "node.lab:",
      HEX32.slice(0, 31),
      `node.lab:${HEX32.slice(0, 31)}`,
      HEX32.slice(0, 31) + "g",
      HEX32.toUpperCase(),
      "a".repeat(129),
      `${HEX32}:`,
      `${HEX32} x`,
    ]
  ) {
    const e = await assertRejects(() => secretFromRemoteAuth(raw), SstError, /no valid secret/);
    assertEquals((e as SstError).exitCode, 71, `for ${JSON.stringify(raw)}`);
  }
});

Deno.test("address: 128 hex characters is still a valid secret", () => {
  assertEquals(secretFromRemoteAuth("f".repeat(128)), "f".repeat(128));
});

Deno.test("address: hostile addresses are rejected with a ConfigError (exit 22)", async () => {
  const hostile = [
    "10.0.0.1 :4444",
    "10.0.0.1:4444 ",
    "node lab",
    "node'lab",
    "node`id`",
    "$(id)",
    "$(id):4444",
    "a;b",
    "a;rm -rf /",
    "node\nlab",
    "node\rlab",
    "a,b",
    "a!!b",
    "a\\b",
    "user@10.0.0.1",
    "x@10.0.0.1:4444/rsync_tunnel_sst/1",
    "[fe80::1%eth0]:4444",
    "fe80::1%eth0",
    "-oProxyCommand=x",
    "10.0.0.1:4444/rsync_tunnel_sst;id/1",
    "10.0.0.1:4444/rsync_tunnel_sst/1'",
    "10.0.0.1:4444/a b",
    "[fe80::1]x:4444",
    "[::1]:4444:1",
    "node\0lab",
    "",
  ];
  for (const raw of hostile) {
    const e = await assertRejects(() => parseEndpoint(raw), ConfigError);
    assertEquals((e as ConfigError).exitCode, 22, `for ${JSON.stringify(raw)}`);
  }
});

Deno.test("address: ports 0, 65536, abc, empty and 6 digits are rejected; 1 and 65535 accepted", async () => {
  for (const port of ["0", "65536", "abc", "", "100000", "-1", "44 44"]) {
    await assertRejects(
      () => parseEndpoint(`10.0.0.1:${port}`),
      ConfigError,
      port.includes(" ") ? /spaces/ : /invalid port/,
    );
  }
  assertEquals(parseEndpoint("10.0.0.1:1").port, 1);
  assertEquals(parseEndpoint("10.0.0.1:65535").port, 65535);
  assertEquals(parseEndpoint("[::1]:65535").port, 65535);
  await assertRejects(() => parseEndpoint("[::1]:0"), ConfigError, /invalid port/);
});

Deno.test("address: all-digit names and out-of-range IPv4 are not host names", async () => {
  for (const raw of ["1234", "1.2.3.256", "01.2.3.4", "999.1.1.1"]) {
    await assertRejects(() => parseHost(raw), ConfigError, /not a host name/);
  }
});

Deno.test({
  name: "address: malformed bracketed IPv6 literals are rejected",
  fn: async () => {
    for (const raw of ["[:]", "[:::::]", "[1:2:3:4:5:6:7:8:9]", "[1.2.3.4:]"]) {
      await assertRejects(() => parseHost(raw), ConfigError, /IPv6/);
    }
  },
});

Deno.test("ready address: what the joiner holds follows its version as copy-<MiB> or nocopy; a donor finds it (and the version) whatever comes before, and nothing in an older joiner's address", () => {
  const host = { kind: "ipv4", address: "10.0.0.2" } as const;
  const version = { major: 10, minor: 11, patch: 19 };
  const old = formatReadyAddress(host, 4444, version, { kind: "copy", mib: 180 });
  assertEquals(old, "10.0.0.2:4444/rsync_tunnel_sst/1/mariadb-10.11.19/copy-180");
  const fresh = formatReadyAddress(host, 4444, null, { kind: "none" });
  assertEquals(fresh, "10.0.0.2:4444/rsync_tunnel_sst/1/nocopy");
  for (const a of [old, fresh]) {
    // mariadbd accepts only [A-Za-z0-9._-:[]/] in the address (docs/sst-protocol.md §1.5); an older donor
    // checks only the module and the protocol version.
    assertMatch(a, /^[A-Za-z0-9._\-:[\]/]+$/);
    checkDonorPath(parseEndpoint(a), a);
  }
  assertEquals(joinerCopy(parseEndpoint(old)), { kind: "copy", mib: 180 });
  assertEquals(joinerServerVersion(parseEndpoint(old)), version);
  assertEquals(joinerCopy(parseEndpoint(fresh)), { kind: "none" });
  assertEquals(joinerServerVersion(parseEndpoint(fresh)), null);
  assertEquals(joinerCopy(parseEndpoint("10.0.0.2:4444/rsync_tunnel_sst/1/mariadb-10.5.23")), null);
  assertEquals(joinerCopy(parseEndpoint("10.0.0.2:4444/rsync_tunnel_sst/1")), null);
  for (const bad of ["copy-", "copy-x", "copy-1234567890", "nocopy2", "copy--1"]) {
    assertEquals(joinerCopy(parseEndpoint(`h:1/rsync_tunnel_sst/1/${bad}`)), null, bad);
  }
  // The longest ready line (a 253-character host name, the largest figures) stays far below
  // the joiner's 511-character line limit.
  const name = { kind: "name", name: `${"a".repeat(63)}.`.repeat(3) + "a".repeat(61) } as const;
  const longest = `ready ${"f".repeat(32)}@` + formatReadyAddress(
    name,
    65535,
    { major: 9999, minor: 9999, patch: 9999 },
    { kind: "copy", mib: 999_999_999 },
  );
  assert(longest.length < 400, `${longest.length} characters`);
  assertEquals(copyToken({ kind: "copy", mib: 1e12 }), "copy-999999999");
});
