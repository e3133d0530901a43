/**
 * Unit tests for the completion record (src/transfer/completion.ts) and the joiner's rsync
 * daemon configuration (src/transfer/rsyncd_config.ts).
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { throws as assertThrows } from "node:assert/strict";
import {
  COMPLETION_FILE,
  type CompletionRecord,
  isValidState,
  parseCompletion,
  parseDonorRecord,
  renderCompletion,
  renderRefusal,
  secretsEqual,
} from "../../src/transfer/completion.ts";
import {
  BINLOG_STAGING,
  type ModulePaths,
  Modules,
  renderRsyncdConf,
  renderSecrets,
  RSYNC_USER,
  rsyncConfSafe,
} from "../../src/transfer/rsyncd_config.ts";
import { ConfigError, ExitCode, TransferError } from "../../src/core/errors.ts";

const UUID = "f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc";
const SECRET = "86ff590328d774228de60a202c014da5";
const HEADER = "wsrep_sst_rsync_tunnel completion 1";

// ---------------------------------------------------------------------------------------------
// completion record

Deno.test("completion: render gives header, state and secret lines, newline-terminated", () => {
  assertEquals(COMPLETION_FILE, "sst_complete");
  assertEquals(
    renderCompletion({ state: `${UUID}:13 0`, secret: SECRET, bypass: false }),
    `${HEADER}\nstate ${UUID}:13 0\nsecret ${SECRET}\n`,
  );
});

Deno.test("completion: render adds a 'bypass' line for IST", () => {
  assertEquals(
    renderCompletion({ state: `${UUID}:6 0`, secret: SECRET, bypass: true }),
    `${HEADER}\nstate ${UUID}:6 0\nsecret ${SECRET}\nbypass\n`,
  );
});

Deno.test("completion: parse(render(r)) gives r back (SST, IST, no domain, seqno -1)", () => {
  const records: CompletionRecord[] = [
    { state: `${UUID}:13 0`, secret: SECRET, bypass: false },
    { state: `${UUID}:6 4294967295`, secret: SECRET, bypass: true },
    { state: `${UUID}:42`, secret: SECRET, bypass: false },
    { state: `${UUID.toUpperCase()}:-1 0`, secret: "x".repeat(64), bypass: true },
  ];
  for (const r of records) {
    assertEquals(parseCompletion(renderCompletion(r), "test"), r);
  }
});

Deno.test("completion: render refuses an invalid state (including one smuggling a line)", async () => {
  for (
    const state of ["", "not-a-state", `${UUID}`, `${UUID}:x`, `${UUID}:6 0\nbypass`, `${UUID}:6 `]
  ) {
    await assertRejects(
      () => renderCompletion({ state, secret: SECRET, bypass: false }),
      Error,
      /invalid state/,
    );
  }
});

Deno.test("completion: isValidState accepts what mariadbd parses and nothing else", () => {
  assertEquals(isValidState(`${UUID}:13 0`), true);
  assertEquals(isValidState(`${UUID}:13`), true);
  assertEquals(isValidState(`${UUID}:-1`), true);
  assertEquals(isValidState(`${UUID}:9223372036854775807 1`), true);
  assertEquals(isValidState(`${UUID}:13  0`), false);
  assertEquals(isValidState(`${UUID}:13 0\r`), false);
  assertEquals(isValidState(`${UUID.slice(1)}:13 0`), false);
  assertEquals(isValidState(`${UUID}:12345678901234567890`), false);
  assertEquals(isValidState(`${UUID}:1 -1`), false);
});

async function rejectsRecord(text: string, re: RegExp): Promise<void> {
  const e = await assertRejects(
    () => parseCompletion(text, "/tmp/x/sst_complete"),
    TransferError,
    re,
  );
  assertEquals((e as TransferError).exitCode, ExitCode.transfer);
  assertEquals((e as TransferError).exitCode, 32);
  assert(e.message.includes("/tmp/x/sst_complete"), e.message);
}

Deno.test("completion: parse rejects a record without secret (exit 32)", async () => {
  await rejectsRecord(`${HEADER}\nstate ${UUID}:13 0\n`, /no secret/);
  await rejectsRecord(`${HEADER}\nstate ${UUID}:13 0\nsecret \n`, /no secret/);
});

Deno.test("completion: parse rejects a missing or invalid state (exit 32)", async () => {
  await rejectsRecord(`${HEADER}\nsecret ${SECRET}\n`, /no valid <uuid>:<seqno> state/);
  await rejectsRecord(`${HEADER}\nstate garbage\nsecret ${SECRET}\n`, /no valid/);
  await rejectsRecord(`${HEADER}\nstate ${UUID}:13 0 extra\nsecret ${SECRET}\n`, /no valid/);
});

Deno.test("completion: parse rejects an unknown header, e.g. the stock magic file", async () => {
  await rejectsRecord(`${UUID}:13 0\nsecret ${SECRET}\n`, /unknown format/);
  await rejectsRecord(
    `wsrep_sst_rsync_tunnel completion 2\nstate ${UUID}:13 0\nsecret ${SECRET}\n`,
    /unknown format/,
  );
  await rejectsRecord("", /unknown format/);
  // CRLF line ends: the header line carries a '\r' and does not match.
  await rejectsRecord(`${HEADER}\r\nstate ${UUID}:13 0\r\nsecret ${SECRET}\r\n`, /unknown format/);
});

Deno.test("completion: parse rejects an unexpected line", async () => {
  await rejectsRecord(
    `${HEADER}\nstate ${UUID}:13 0\nsecret ${SECRET}\nhello world\n`,
    /unexpected line "hello world"/,
  );
  await rejectsRecord(`${HEADER}\nstate ${UUID}:13 0\nsecret ${SECRET}\nbypass 1\n`, /unexpected/);
});

Deno.test("completion: blank lines are ignored when parsing", () => {
  assertEquals(
    parseCompletion(`${HEADER}\n\nstate ${UUID}:1 0\n\nsecret ${SECRET}\n\n`, "t"),
    { state: `${UUID}:1 0`, secret: SECRET, bypass: false },
  );
});

Deno.test("completion: secretsEqual compares exactly", () => {
  assertEquals(secretsEqual(SECRET, SECRET), true);
  assertEquals(secretsEqual(SECRET, SECRET.slice(0, -1) + "6"), false);
  assertEquals(secretsEqual(SECRET, "0" + SECRET.slice(1)), false);
  assertEquals(secretsEqual(SECRET, SECRET.slice(0, -1)), false);
  assertEquals(secretsEqual(SECRET, SECRET + "0"), false);
  assertEquals(secretsEqual("", SECRET), false);
  assertEquals(secretsEqual("", ""), true);
});

// ---------------------------------------------------------------------------------------------
// rsyncd.conf

const PATHS: ModulePaths = {
  layout: {
    datadir: "/var/lib/mysql",
    innodbDataHomeDir: "/srv/ibdata",
    innodbLogGroupHomeDir: "/srv/redo",
    innodbUndoDirectory: "/var/lib/mysql/undo",
    ariaLogDirPath: "/srv/aria",
  },
  binlogStaging: `/var/lib/mysql/${BINLOG_STAGING}`,
  completionDir: "/tmp/sst.abc/complete",
  spaceDir: "/tmp/sst.abc/space",
  datadirExcludeFile: "/tmp/sst.abc/datadir.exclude",
};

/** Splits a rendered rsyncd.conf into the global lines and `{ [module]: lines }`. */
function sections(conf: string): { global: string[]; modules: Map<string, string[]> } {
  const global: string[] = [];
  const modules = new Map<string, string[]>();
  let current: string[] = global;
  for (const line of conf.split("\n").filter((l) => l !== "")) {
    const m = line.match(/^\[(.+)\]$/);
    if (m) {
      assert(!modules.has(m[1]), `module ${m[1]} appears twice`);
      current = [];
      modules.set(m[1], current);
    } else {
      current.push(line);
    }
  }
  return { global, modules };
}

Deno.test("rsyncd: global part authenticates every connection and allows writes", () => {
  const conf = renderRsyncdConf(PATHS, "/tmp/sst.abc/secrets", "/tmp/sst.abc/rsyncd.log", 300);
  const { global } = sections(conf);
  assertEquals(RSYNC_USER, "sst");
  for (
    const line of [
      "auth users = sst",
      "secrets file = /tmp/sst.abc/secrets",
      "strict modes = yes",
      "read only = no",
      "use chroot = no",
      "list = no",
      "timeout = 300",
      "log file = /tmp/sst.abc/rsyncd.log",
    ]
  ) {
    assert(global.includes(line), `missing '${line}' in:\n${conf}`);
  }
  assert(conf.endsWith("\n"));
});

Deno.test("rsyncd: one section per module with the right path; datadir reads the joiner's excludes", () => {
  const { modules } = sections(renderRsyncdConf(PATHS, "/s", "/l", 60));
  assertEquals([...modules.keys()].sort(), Object.values(Modules).sort());
  assertEquals(modules.get("rsync_tunnel_sst"), [
    "path = /var/lib/mysql",
    "exclude from = /tmp/sst.abc/datadir.exclude",
  ]);
  assertEquals(modules.get("rsync_tunnel_sst-data_dir"), ["path = /srv/ibdata"]);
  assertEquals(modules.get("rsync_tunnel_sst-log_dir"), ["path = /srv/redo"]);
  assertEquals(modules.get("rsync_tunnel_sst-undo_dir"), ["path = /var/lib/mysql/undo"]);
  assertEquals(modules.get("rsync_tunnel_sst-aria_log"), ["path = /srv/aria"]);
  assertEquals(modules.get("rsync_tunnel_sst-binlogs"), [
    "path = /var/lib/mysql/wsrep_sst_binlogs.tmp",
  ]);
  assertEquals(modules.get("rsync_tunnel_sst-complete"), ["path = /tmp/sst.abc/complete"]);
  // The only module a donor may read: the joiner's space report, in its private directory.
  assertEquals(modules.get("rsync_tunnel_sst-space"), [
    "path = /tmp/sst.abc/space",
    "read only = yes",
    "write only = no",
  ]);
});

Deno.test("rsyncd: renderSecrets is 'sst:<secret>' on one line", () => {
  assertEquals(renderSecrets(SECRET), `sst:${SECRET}\n`);
});

Deno.test("rsyncd: rsyncConfSafe rejects newline, CR, NUL, leading/trailing spaces and empty", async () => {
  for (const v of ["/a\nb", "/a\rb", "/a\0b", " /a", "/a ", "\t/a", "/a\t", ""]) {
    const e = await assertRejects(
      () => rsyncConfSafe("secrets file", v),
      ConfigError,
      /secrets file/,
    );
    assertEquals((e as ConfigError).exitCode, 22);
  }
  assertEquals(rsyncConfSafe("x", "/var/lib/my sql"), "/var/lib/my sql");
});

Deno.test("rsyncd: a module directory with a newline cannot inject configuration", async () => {
  await assertRejects(
    () =>
      renderRsyncdConf(
        { ...PATHS, completionDir: "/tmp/x\n[evil]\npath = /" },
        "/s",
        "/l",
        60,
      ),
    ConfigError,
    /rsync_tunnel_sst-complete/,
  );
});

Deno.test("the donor's version rides in the completion record only when given", () => {
  const base = { state: "f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc:13 0", secret: "ab".repeat(16) };
  const withServer = renderCompletion({ ...base, bypass: false, server: "10.11.19" });
  assertEquals(parseCompletion(withServer, "f"), { ...base, bypass: false, server: "10.11.19" });
  // Without it the record is byte for byte what older joiners of ours accept.
  assertEquals(
    renderCompletion({ ...base, bypass: false }),
    `wsrep_sst_rsync_tunnel completion 1\nstate ${base.state}\nsecret ${base.secret}\n`,
  );
  assertEquals(parseDonorRecord(withServer, "f").kind, "complete");
  assertThrows(() => parseCompletion(withServer.replace("10.11.19", "10.11;rm"), "f"));
});

Deno.test("a refusal record carries the secret, the donor's version and a one-line reason", () => {
  const secret = "cd".repeat(16);
  const text = renderRefusal({ secret, server: "10.5.23", reason: "too old\nsecond line" });
  const r = parseDonorRecord(text, "f");
  assertEquals(r, {
    kind: "refused",
    refusal: { secret, server: "10.5.23", reason: "too old second line" },
  });
  for (
    const broken of [
      text.replace(/secret .*\n/, ""),
      text.replace(/reason .*\n/, ""),
      text.replace("server 10.5.23", "server ten"),
      text + "state f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc:13 0\n",
    ]
  ) {
    assertThrows(() => parseDonorRecord(broken, "f"));
  }
  // A joiner of ours that predates refusals rejects the record as an unknown format.
  assertThrows(() => parseCompletion(text, "f"));
  const long = parseDonorRecord(
    renderRefusal({ secret, server: "unknown", reason: "x".repeat(5000) }),
    "f",
  );
  assert(long.kind === "refused" && long.refusal.reason.length === 1000);
});

Deno.test("a refusal record may carry the exit code both sides fail with: 28 for a joiner that cannot hold the copy; another code is refused", () => {
  const secret = "cd".repeat(16);
  const text = renderRefusal({ secret, server: "10.11.19", reason: "full", code: 28 });
  assertMatch(text, /\ncode 28\n/);
  assertEquals(parseDonorRecord(text, "f"), {
    kind: "refused",
    refusal: { secret, server: "10.11.19", reason: "full", code: 28 },
  });
  assertThrows(() => parseDonorRecord(text.replace("code 28", "code 0"), "f"));
  assertThrows(() => parseDonorRecord(text.replace("code 28", "code 28x"), "f"));
  // Without a code: the record older joiners of ours read (the versions' refusal, exit 95).
  assert(!/code/.test(renderRefusal({ secret, server: "10.11.19", reason: "x" })));
});
