/**
 * Server versions: reading `mariadbd --version`, the `ready` path token, the record value, and
 * the rule that decides which donor → joiner pairs proceed, warn or are refused.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  compatibility,
  describePair,
  parseRecordVersion,
  parseVersionOutput,
  parseVersionToken,
  type ServerVersion,
  versionToken,
} from "../../src/core/server_version.ts";
import { formatReadyAddress, joinerServerVersion, parseEndpoint } from "../../src/core/address.ts";
import { askVersion } from "../../src/proc/server_process.ts";
import {
  type Child,
  denoAdapter,
  type ProcessAdapter,
  type SpawnSpec,
} from "../../src/proc/process.ts";

function v(text: string): ServerVersion {
  const [major, minor, patch] = text.split(".").map(Number);
  return { major, minor, patch };
}

Deno.test("mariadbd --version output of 10.5, 10.11 and 11.8 as Debian ships them", () => {
  const outputs: [string, string][] = [
    [
      "/usr/sbin/mysqld  Ver 10.5.23-MariaDB-0+deb11u1 for debian-linux-gnu on x86_64 (Debian 11)",
      "10.5.23",
    ],
    [
      "/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)",
      "10.11.19",
    ],
    [
      "/proc/812/exe  Ver 11.8.9-MariaDB-deb13 for debian-linux-gnu on x86_64 (Debian 13)",
      "11.8.9",
    ],
    ["mariadbd  Ver 10.6.21-MariaDB-log for Linux on aarch64 (MariaDB Server)", "10.6.21"],
  ];
  for (const [text, want] of outputs) assertEquals(parseVersionOutput(text), v(want), text);
});

Deno.test("output that is not MariaDB's version line gives no version", () => {
  for (
    const text of [
      "",
      "/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)",
      "mariadbd: unknown option '--version'",
      "Ver 10.11-MariaDB",
      "Version 10.11.19-MariaDB",
    ]
  ) {
    assertEquals(parseVersionOutput(text), null, text);
  }
});

Deno.test("the ready address carries the joiner's version as a third path component", () => {
  const host = { kind: "ipv4", address: "10.0.0.2" } as const;
  const addr = formatReadyAddress(host, 4444, v("10.11.19"));
  assertEquals(addr, "10.0.0.2:4444/rsync_tunnel_sst/1/mariadb-10.11.19");
  // mariadbd accepts only [A-Za-z0-9._-:[]/] in the address (docs/sst-protocol.md §1.5).
  assertMatch(addr, /^[A-Za-z0-9._\-:[\]/]+$/);
  assertEquals(joinerServerVersion(parseEndpoint(addr)), v("10.11.19"));
  // Unknown version, or a joiner of ours that predates the token: no component, no version.
  assertEquals(formatReadyAddress(host, 4444, null), "10.0.0.2:4444/rsync_tunnel_sst/1");
  assertEquals(joinerServerVersion(parseEndpoint("10.0.0.2:4444/rsync_tunnel_sst/1")), null);
  for (const bad of ["mariadb-10.11", "mariadb-x.y.z", "10.11.19", "mariadb-10.11.19-log"]) {
    assertEquals(parseVersionToken(bad), null, bad);
  }
  assertEquals(parseVersionToken(versionToken(v("11.8.9"))), v("11.8.9"));
  assertEquals(parseRecordVersion("10.5.23"), v("10.5.23"));
  assertEquals(parseRecordVersion("unknown"), null);
});

/** donor → joiner, the verdict, and what the message must name. */
const PAIRS: [string, string, "ok" | "warn" | "refuse", RegExp | null][] = [
  // The measured failures: redo log formats on both sides of 10.8.
  ["10.5.23", "10.11.19", "refuse", /upgrade the donor to 10\.8 or later first.*mariabackup/],
  ["10.11.19", "10.5.23", "refuse", /upgrade this joiner to 10\.8 or later first/],
  ["10.7.8", "10.8.0", "refuse", /redo log format changed in 10\.8/],
  ["11.8.9", "10.6.21", "refuse", /redo log format changed in 10\.8/],
  // Newer donor, same side of 10.8: started with InnoDB errors when measured.
  ["11.8.9", "10.11.19", "warn", /upgrade the joiner first/],
  ["10.6.21", "10.5.23", "warn", /upgrade the joiner first/],
  // The rolling-upgrade step, and equal versions.
  ["10.11.19", "11.8.9", "ok", null],
  ["10.5.23", "10.6.21", "ok", null],
  ["10.6.21", "10.6.21", "ok", null],
  ["10.11.19", "10.11.6", "ok", null], // patch levels do not count
];

Deno.test("compatibility: refused across 10.8, a warning for a newer donor, fine otherwise", () => {
  for (const [donor, joiner, kind, message] of PAIRS) {
    const c = compatibility(v(donor), v(joiner));
    assertEquals(c.kind, kind, `${donor} → ${joiner}`);
    if (c.kind === "warn" || c.kind === "refuse") {
      assertMatch(c.message, message!, `${donor} → ${joiner}`);
      // The message names both versions, the donor's as the donor's.
      assertMatch(
        c.message,
        new RegExp(`donor[^,:]* (running )?MariaDB ${donor.replace(/\./g, "\\.")}`),
      );
      assertMatch(c.message, new RegExp(`joiner[^,:]* MariaDB ${joiner.replace(/\./g, "\\.")}`));
    }
  }
});

Deno.test("compatibility: an unknown version proceeds and says the check was skipped", () => {
  for (
    const [donor, joiner, who] of [
      [null, v("10.11.19"), /the donor's server version is not known/],
      [v("10.5.23"), null, /the joiner's server version is not known/],
      [null, null, /the donor's and the joiner's/],
    ] as const
  ) {
    const c = compatibility(donor, joiner);
    assertEquals(c.kind, "ok");
    assert(c.kind === "ok" && c.skipped !== undefined);
    assertMatch(c.skipped, who);
    assertMatch(describePair(donor, joiner, c), /version check skipped/);
  }
  const known = compatibility(v("10.11.19"), v("11.8.9"));
  assertEquals(
    describePair(v("10.11.19"), v("11.8.9"), known),
    "server versions: donor MariaDB 10.11.19, joiner MariaDB 11.8.9",
  );
});

/** An adapter whose `cmd` prints `stdout` and exits `code` (the real adapter runs `sh`). */
function printing(stdout: string, code = 0): { adapter: ProcessAdapter; runs: SpawnSpec[] } {
  const runs: SpawnSpec[] = [];
  return {
    runs,
    adapter: {
      spawn(spec: SpawnSpec): Child {
        runs.push(spec);
        return denoAdapter.spawn({
          ...spec,
          cmd: "sh",
          args: ["-c", 'printf "%s\\n" "$1"; exit "$2"', "sh", stdout, String(code)],
        });
      },
    },
  };
}

Deno.test("askVersion runs the binary with --no-defaults --version and reads its answer", async () => {
  const good = printing("/proc/9/exe  Ver 10.5.23-MariaDB-0+deb11u1 for debian-linux-gnu");
  assertEquals((await askVersion(good.adapter, "/proc/9/exe")).version, v("10.5.23"));
  assertEquals(good.runs.map((r) => [r.cmd, ...r.args]), [
    ["/proc/9/exe", "--no-defaults", "--version"],
  ]);
  // Not MariaDB, a failing binary, one that cannot be started: unknown, never an exception.
  assertEquals(
    (await askVersion(printing("mysqld  Ver 8.0.36 for Linux").adapter, "x")).version,
    null,
  );
  assertEquals(
    (await askVersion(printing("mariadbd  Ver 10.11.19-MariaDB", 1).adapter, "x")).version,
    null,
  );
  const missing = await askVersion(denoAdapter, "/nonexistent/mariadbd");
  assertEquals(missing.version, null);
  assertMatch(missing.output, /No such file|not found|ENOENT/i);
});
