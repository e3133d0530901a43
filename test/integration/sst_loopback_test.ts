/**
 * Joiner and donor driven exactly as mariadbd drives them, over loopback, with real socat,
 * rsync and openssl.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  type DriveOptions,
  driveSst,
  type SstResult,
  TEST_STATE,
} from "../../scripts/lib/sst_driver.ts";
import {
  type Fixture,
  type FixtureOptions,
  leftovers,
  makeFixture,
  makeToolDir,
  processesMentioning,
  setSst,
} from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { makeCa, makeLeaf } from "../../scripts/lib/pki.ts";
import { tcpListeners } from "../../src/tunnel/listen_check.ts";
import { commandName } from "../../src/proc/liveness.ts";
import { recordCount } from "../../scripts/lib/ledger.ts";
import { UNCHANGED_MARGIN_MS } from "../../src/transfer/precopy_record.ts";
import { waitFor } from "../../src/proc/wait.ts";

function assertClean(f: Fixture): void {
  assertEquals(processesMentioning(f.root), [], "no helper process may outlive the SST");
  assertEquals(leftovers(f.joiner.tmpdir), [], "joiner private files must be removed");
  assertEquals(leftovers(f.donor.tmpdir), [], "donor private files must be removed");
  for (const n of ["sst_in_progress", "wsrep_sst.pid", "tables_flushed"]) {
    assert(!leftovers(f.joiner.layout.datadir).includes(n), `joiner ${n} left behind`);
    assert(!leftovers(f.donor.layout.datadir).includes(n), `donor ${n} left behind`);
  }
}

/** The SST between `f`'s two nodes, driven with `o` added to the driver's options. */
function sst(f: Fixture, o: Partial<DriveOptions> = {}): Promise<SstResult> {
  return driveSst({ address: f.address, joiner: f.joiner, donor: f.donor, ...o });
}

/**
 * Registers a loopback test: `body` runs on a fresh fixture made with `o`, then no helper
 * process, private file or run file may be left; the fixture is always removed.
 */
function loopbackTest(name: string, o: FixtureOptions, body: (f: Fixture) => Promise<void>): void {
  Deno.test(name, async () => {
    const f = await makeFixture(o);
    try {
      await body(f);
      assertClean(f);
    } finally {
      await f.cleanup();
    }
  });
}

/** `WSREP_SST` lines of `text` that contain `part`. */
function linesWith(text: string, part: string): string[] {
  return text.split("\n").filter((l) => l.includes(part));
}

/**
 * Both sides of a successful SST said what they were doing, pass by pass (`phases`, in order):
 * the donor's progress lines and the joiner's (the donor's phase notice: what it sends, then
 * that the pass is done) name each pass, and each side ends with one totals line naming the
 * passes, the bytes and (donor) how long writes were blocked; rsync's command lines carry no
 * `sh -c` script, the donor's socat command is logged once.
 */
function assertPhasedLogs(r: SstResult, phases: string[]): void {
  const donor = r.donor!.stderr, joiner = r.joiner.stderr;
  for (const phase of phases) {
    const delta = phase.includes("delta");
    const verb = delta ? "compared" : "copied";
    assertMatch(
      donor,
      new RegExp(`\\] ${phase}: ${verb} [\\d.]+ \\S+ of [\\d.]+ \\S+ \\(100 %\\)`),
    );
    assertMatch(
      joiner,
      new RegExp(`\\] ${phase}: the donor ${delta ? "compares" : "sends"} [\\d.]+ \\S+`),
    );
    assertMatch(joiner, new RegExp(`\\] ${phase}: done \\(`));
  }
  const donorTotals = linesWith(donor, "SST totals on donor:");
  assertEquals(donorTotals.length, 1, donor);
  assertMatch(
    donorTotals[0],
    new RegExp(
      `complete in [\\d.]+ s; passes: ${
        phases.map((p) => `${p} \\((delta, compared|whole files, copied) [^)]*\\)`).join(", ")
      }; read [\\d.]+ \\S+, sent [\\d.]+ \\S+, [\\d.]+ MiB/s; donor writes blocked for [\\d.]+ s`,
    ),
  );
  const joinerTotals = linesWith(joiner, "SST totals on joiner:");
  assertEquals(joinerTotals.length, 1, joiner);
  assertMatch(
    joinerTotals[0],
    new RegExp(
      `complete in [\\d.]+ s; received [\\d.]+ \\S+, [\\d.]+ MiB/s; passes the donor ` +
        `announced: ${phases.join(", ")} \\(`,
    ),
  );
  assertEquals(linesWith(donor, "sh -c"), [], "rsync's command lines without the --rsh script");
  assertEquals(linesWith(donor, "tunnel: rsync --rsh runs").length, 1, donor);
}

async function dirDigest(dir: string) {
  return await treeDigest(dir, (rel) => !rel.includes("/"));
}

loopbackTest(
  "full SST copies the 10.11 data set with separate InnoDB/undo/Aria/binlog dirs identically",
  { separateDirs: true, binlog: true },
  async (f) => {
    const r = await sst(f);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertMatch(
      r.joiner.lines[0],
      /^ready [0-9a-f]{32}@127\.0\.0\.1:\d+\/rsync_tunnel_sst\/1\/nocopy$/,
    );
    assertEquals(r.joiner.lines.slice(1), [TEST_STATE]);
    assertEquals(r.donor?.lines, ["flush tables", "continue", `done ${TEST_STATE}`]);
    const d = f.donor.layout, j = f.joiner.layout;
    assertEquals(
      diffDigests(
        await treeDigest(d.datadir, isTransferredDatadirFile),
        await treeDigest(j.datadir, isTransferredDatadirFile),
      ),
      [],
    );
    for (
      const key of [
        "innodbDataHomeDir",
        "innodbLogGroupHomeDir",
        "innodbUndoDirectory",
        "ariaLogDirPath",
      ] as const
    ) {
      assertEquals(diffDigests(await dirDigest(d[key]), await dirDigest(j[key])), [], key);
    }
    const binlogDir = j.binlogBase!.replace(/\/mysql-bin$/, "");
    assertEquals(leftovers(binlogDir).sort(), ["mysql-bin.000003", "mysql-bin.index"]);
    assertEquals(await Deno.readTextFile(j.binlogIndex!), `${binlogDir}/mysql-bin.000003\n`);
    for (
      const never of ["grastate.dat", "galera.cache", "gvwstate.dat", "ib_buffer_pool", "node.err"]
    ) {
      assert(!leftovers(j.datadir).includes(never), `${never} must not be transferred`);
    }
  },
);

loopbackTest(
  "full SST into a datadir-only layout deletes stale schema dirs and keeps the joiner's grastate",
  { binlog: true },
  async (f) => {
    const j = f.joiner.layout.datadir;
    await Deno.mkdir(`${j}/stale_db`);
    await Deno.writeTextFile(`${j}/stale_db/t.ibd`, "old");
    await Deno.mkdir(`${j}/shop`);
    await Deno.writeTextFile(`${j}/shop/dropped.ibd`, "old");
    await Deno.writeTextFile(`${j}/grastate.dat`, "joiner's own");
    await Deno.writeTextFile(`${j}/mysql-bin.000007`, "old binlog");
    await Deno.writeTextFile(`${j}/mysql-bin.index`, "./mysql-bin.000007\n");
    const r = await sst(f);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    const names = leftovers(j);
    assert(!names.includes("stale_db"), "schema dir absent on the donor must be deleted");
    assert(
      !leftovers(`${j}/shop`).includes("dropped.ibd"),
      "extraneous table file must be deleted",
    );
    assertEquals(await Deno.readTextFile(`${j}/grastate.dat`), "joiner's own");
    assert(!names.includes("mysql-bin.000007"), "old binlog must be removed");
    assertEquals(await Deno.readTextFile(`${j}/mysql-bin.index`), "./mysql-bin.000003\n");
    for (const e of ["ibdata1", "ib_logfile0", "undo001", "aria_log_control"]) {
      assert(names.includes(e), e);
    }
  },
);

loopbackTest(
  "bypass (IST) sends only the completion record and the joiner prints the donor's gtid and domain",
  {},
  async (f) => {
    const state = "f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc:6 3";
    const r = await sst(f, { bypass: true, state });
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.lines, ["continue", `done ${state}`]);
    assertEquals(r.joiner.lines[1], state);
    assertEquals(leftovers(f.joiner.layout.datadir), [], "no data may arrive in IST");
  },
);

loopbackTest(
  "a donor whose certificate comes from an untrusted CA is refused: nothing written, no process left",
  {},
  async (f) => {
    const rogueCa = await makeCa(f.root, "rogue-ca");
    const rogue = await makeLeaf(f.root, rogueCa, "rogue", {
      cn: "localhost",
      sans: ["DNS:localhost"],
    });
    const cnf = (await Deno.readTextFile(f.donor.defaultsFile))
      .replace(`tcert=${f.donor.leaf.cert}`, `tcert=${rogue.cert}`)
      .replace(`tkey=${f.donor.leaf.key}`, `tkey=${rogue.key}`)
      .replace(`tca=${f.ca.cert}`, `tca=${rogueCa.cert}`);
    await Deno.writeTextFile(f.donor.defaultsFile, cnf);
    const r = await sst(f, { timeoutMs: 60_000 });
    // The donor trusts only the rogue CA: it refuses the joiner's certificate (exit 129, with
    // that cause), not some other failure that happens to exit non-zero.
    assert(r.donor, "the donor must have run");
    assertEquals(r.donor.code, 129, r.donor.stderr);
    const errors = r.donor.stderr.split("\n").filter((l) => l.includes("[ERROR]"));
    assertEquals(errors.length, 1, r.donor.stderr);
    assertMatch(
      errors[0],
      /certificate of joiner 127\.0\.0\.1:\d+.*(not issued by a CA in our|we rejected).*tca/,
    );
    assert(r.joiner.code !== 0, "joiner must fail");
    assertEquals(r.joiner.lines.length, 1, "joiner prints no final line");
    assertEquals(leftovers(f.joiner.layout.datadir), [], "nothing may be written");
  },
);

loopbackTest(
  "a donor without the joiner's per-SST secret cannot write: rsync auth fails before any file",
  {},
  async (f) => {
    const r = await sst(f, {
      remoteAuth: () => "0123456789abcdef0123456789abcdef",
      timeoutMs: 60_000,
    });
    assertEquals(r.donor?.code, 71, r.donor?.stderr);
    // 71 is shared (plaintext peer, protocol errors): the ERROR line must name this cause.
    const errors = (r.donor?.stderr ?? "").split("\n").filter((l) => l.includes("[ERROR]"));
    assertEquals(errors.length, 1, r.donor?.stderr);
    assertMatch(errors[0], /joiner refused the transfer \(wrong per-SST secret or module\)/);
    assertEquals(r.joiner.lines.length, 1);
    assertEquals(leftovers(f.joiner.layout.datadir), []);
  },
);

async function plaintextProbe(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode("@RSYNCD: 31.0\nrsync_tunnel_sst\n"));
    const buf = new Uint8Array(4096);
    const n = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<null>((r) => setTimeout(() => r(null), 3000)),
    ]);
    return n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
  } finally {
    conn.close();
  }
}

function listenersOf(pids: Set<number>): number[] {
  const ports: number[] = [];
  for (const l of tcpListeners()) {
    for (const pid of pids) {
      const fds = (() => {
        try {
          return [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => {
            try {
              return Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`);
            } catch {
              return "";
            }
          });
        } catch {
          return [];
        }
      })();
      if (fds.includes(`socket:[${l.inode}]`)) ports.push(l.port);
    }
  }
  return [...new Set(ports)];
}

function helperPids(marker: string): Set<number> {
  return new Set(processesMentioning(marker).map((l) => Number(l.split(":")[0])));
}

loopbackTest(
  "during a transfer only the joiner's TLS port listens, and a plaintext rsync client gets nothing",
  { bigTableBytes: 64 * 1024 * 1024 },
  async (f) => {
    let probe = "unset";
    let duringReady: number[] = [];
    let duringFlush: number[] = [];
    let rsyncListeners: number[] = [];
    const r = await sst(f, {
      onReady: async () => {
        probe = await plaintextProbe(f.port);
        duringReady = listenersOf(helperPids(f.root));
      },
      onFlush: () => {
        setTimeout(() => {
          duringFlush = listenersOf(helperPids(f.root));
          const rsyncPids = [...helperPids(f.root)].filter((p) => commandName(p) === "rsync");
          rsyncListeners = listenersOf(new Set(rsyncPids));
        }, 1500);
        return Promise.resolve();
      },
    });
    const plaintext = [...duringFlush.filter((p) => p !== f.port), ...rsyncListeners];
    recordCount("plaintext-listeners", "loopback SST, sampled during the copy", plaintext.length);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(probe, "", "plaintext client must get no rsync greeting");
    assertEquals(duringReady, [f.port]);
    assert(duringFlush.every((p) => p === f.port), `unexpected listeners ${duringFlush}`);
    assertEquals(rsyncListeners, [], "no rsync process may listen");
  },
);

loopbackTest(
  "joiner exits 32 without a final line and leaves nothing when mariadbd (--parent) dies",
  {},
  async (f) => {
    const parent = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      const r = await sst(f, {
        parent: parent.pid,
        noDonor: true,
        onReady: () => {
          setTimeout(() => parent.kill("SIGKILL"), 500);
          return Promise.resolve();
        },
        timeoutMs: 30_000,
      });
      assertEquals(r.joiner.code, 32, r.joiner.stderr);
      assertEquals(r.joiner.lines.length, 1);
      assertMatch(r.joiner.stderr, /--parent .* is gone/);
    } finally {
      try {
        parent.kill("SIGKILL");
      } catch { /* gone */ }
      await parent.status;
    }
  },
);

loopbackTest(
  "a busy SST port fails with exit 16 naming the process that holds it",
  {},
  async (f) => {
    const blocker = Deno.listen({ hostname: "127.0.0.1", port: f.port });
    try {
      const r = await sst(f, { noDonor: true, timeoutMs: 30_000 });
      assertEquals(r.joiner.code, 16, r.joiner.stderr);
      assertEquals(r.joiner.lines, []);
      assertMatch(r.joiner.stderr, new RegExp(`port ${f.port} is taken by pid ${Deno.pid}`));
    } finally {
      blocker.close();
    }
  },
);

loopbackTest(
  "without socat in PATH the joiner refuses before ready with exit 2 (never plaintext)",
  {},
  async (f) => {
    const bin = await makeToolDir(`${f.root}/bin`, ["rsync", "getent", "deno", "sh"]);
    const r = await sst(f, {
      joiner: { ...f.joiner, env: { PATH: bin } },
      noDonor: true,
      timeoutMs: 30_000,
    });
    assertEquals(r.joiner.code, 2, r.joiner.stderr);
    assertEquals(r.joiner.lines, []);
    assertMatch(r.joiner.stderr, /socat not found in PATH/);
  },
);

loopbackTest(
  "MariaDB 11.8: the secret on the donor's stdin (REMOTE_AUTH unset) gives an identical copy; no credential in either log",
  { separateDirs: true, binlog: true },
  async (f) => {
    const r = await sst(f, { stdinCredentials: true });
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.joiner.lines.slice(1), [TEST_STATE]);
    assertEquals(r.donor?.lines, ["flush tables", "continue", `done ${TEST_STATE}`]);
    assertMatch(r.donor?.stderr, /joiner's secret taken from sst_remote_user on the donor's stdin/);
    assertEquals(
      diffDigests(
        await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
        await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
      ),
      [],
    );
    const secret = r.joiner.lines[0].slice(6, 38);
    const logs = `${r.donor?.stderr}\n${r.joiner.stderr}`;
    assert(r.sqlPassword && !logs.includes(r.sqlPassword), "the SQL password must not be logged");
    assert(!logs.includes(secret), "the per-SST secret must not be logged");
    assert(!logs.includes("wsrep.sst.261128_151500_testhost"), "the SQL user is not logged");
  },
);

loopbackTest(
  "MariaDB 11.8: a stdin pipe that stays open does not delay or hang the donor",
  {},
  async (f) => {
    const started = Date.now();
    const r = await sst(f, {
      bypass: true,
      stdinCredentials: true,
      stdinKeepOpen: true,
      timeoutMs: 30_000,
    });
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assert(!/did not close/.test(r.donor?.stderr ?? ""), "all four lines arrived: no wait");
    assert(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  },
);

loopbackTest(
  "a secret in REMOTE_AUTH that differs from the one on stdin stops the donor (exit 71) before anything is sent",
  {},
  async (f) => {
    const r = await sst(f, {
      stdinCredentials: true,
      envAuthToo: () => "fedcba9876543210fedcba9876543210",
    });
    assertEquals(r.donor?.code, 71, r.donor?.stderr);
    assertMatch(
      r.donor?.stderr,
      /\[ERROR\] the joiner's secret in WSREP_SST_OPT_REMOTE_AUTH differs from sst_remote_user on the donor's stdin/,
    );
    assertEquals(r.donor?.lines, []);
    assert(!(r.donor?.stderr ?? "").includes("fedcba9876543210fedcba9876543210"));
    assert(r.joiner.code !== 0 && r.joiner.lines.length === 1, "the joiner got nothing");
  },
);

/** Moves the donor's schema directory `db` to `<root>/disk2` and links it from the datadir. */
async function linkDonorSchema(f: Fixture, db: string): Promise<void> {
  const dd = f.donor.layout.datadir;
  await Deno.mkdir(`${f.root}/disk2`, { recursive: true });
  await Deno.rename(`${dd}/${db}`, `${f.root}/disk2/${db}`);
  await Deno.symlink(`${f.root}/disk2/${db}`, `${dd}/${db}`);
}

loopbackTest(
  "links: a donor's schema directory and table file linked elsewhere arrive as a directory and a file with their content, never as links",
  {},
  async (f) => {
    const dd = f.donor.layout.datadir;
    const before = await treeDigest(dd, isTransferredDatadirFile); // links below follow nothing
    await linkDonorSchema(f, "shop");
    const table = [...Deno.readDirSync(`${dd}/shop`)].find((e) => e.isFile)!.name;
    await Deno.rename(`${dd}/shop/${table}`, `${f.root}/${table}`);
    await Deno.symlink(`${f.root}/${table}`, `${dd}/shop/${table}`);
    const r = await sst(f);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    const jd = f.joiner.layout.datadir;
    assert(Deno.lstatSync(`${jd}/shop`).isDirectory, "shop arrived as a link");
    assert(Deno.lstatSync(`${jd}/shop/${table}`).isFile, `${table} arrived as a link`);
    assertEquals(diffDigests(before, await treeDigest(jd, isTransferredDatadirFile)), []);
  },
);

loopbackTest(
  "links: a link to nothing in a donor's schema directory stops the donor (exit 22) naming it, before anything is copied",
  {},
  async (f) => {
    const dd = f.donor.layout.datadir;
    await Deno.symlink(`${f.root}/no-such-file`, `${dd}/shop/gone.MYD`);
    const r = await sst(f);
    assertEquals(r.donor?.code, 22, r.donor?.stderr);
    assertMatch(
      r.donor?.stderr ?? "",
      /\[ERROR\] symbolic link\(s\) in the data set cannot be copied: .*shop\/gone\.MYD points to nothing/,
    );
    assert(!/rsync \(/.test(r.donor?.stderr ?? ""), "the donor started copying");
    assert(r.joiner.code !== 0, "the joiner reported success");
  },
);

/**
 * What a busy server does to its files between a hot copy and the lock: pages rewritten in
 * place (here with the size and modification time kept, as a write in the same clock tick as
 * the copy leaves them), a table rebuilt under a new name, tables created and dropped, a new
 * schema, one dropped, the redo log and the system tablespace written.
 */
async function busyServer(dd: string, round: number): Promise<void> {
  const orders = `${dd}/shop/orders.ibd`;
  const st = await Deno.stat(orders);
  const f = await Deno.open(orders, { write: true });
  for (let i = 0; i < 8; i++) {
    await f.seek((((round * 8 + i) * 7919) % Math.floor(st.size / 16384)) * 16384, 0);
    await f.write(crypto.getRandomValues(new Uint8Array(16384)));
  }
  f.close();
  await Deno.utime(orders, st.atime!, st.mtime!);
  await Deno.writeFile(`${dd}/ibdata1`, crypto.getRandomValues(new Uint8Array(65536)), {
    append: true,
  });
  await Deno.writeFile(`${dd}/ib_logfile0`, crypto.getRandomValues(new Uint8Array(4096)), {
    create: false,
  });
  await Deno.writeFile(`${dd}/shop/t${round}.ibd`, crypto.getRandomValues(new Uint8Array(50000)));
  if (round > 0) await Deno.rename(`${dd}/shop/t${round - 1}.ibd`, `${dd}/shop/r${round}.ibd`);
  await Deno.mkdir(`${dd}/new${round}`, { recursive: true });
  await Deno.writeFile(`${dd}/new${round}/x.ibd`, crypto.getRandomValues(new Uint8Array(9000)));
  if (round > 0) await Deno.remove(`${dd}/new${round - 1}`, { recursive: true });
}

/** Overwrites the first 16 KiB of `path` in place and puts its times back. */
async function rewriteKeepingTimes(path: string): Promise<void> {
  const st = await Deno.stat(path);
  const f = await Deno.open(path, { write: true });
  await f.write(crypto.getRandomValues(new Uint8Array(16384)));
  f.close();
  await Deno.utime(path, st.atime!, st.mtime!);
}

loopbackTest(
  "precopy=on: the joiner equals the donor's locked state after writes, renames, new and dropped tables and schemas between the hot pass and the lock, a rewrite with unchanged size and time among them",
  { bigTableBytes: 32 * 1024 * 1024, donorSstLines: ["precopy=on"] },
  async (f) => {
    const dd = f.donor.layout.datadir;
    // Written long ago: the pre-copy record may vouch for what the writer leaves alone.
    const old = new Date(Date.now() - 2 * UNCHANGED_MARGIN_MS);
    for (const file of (await treeDigest(dd, () => true)).keys()) {
      await Deno.utime(`${dd}/${file}`, old, old);
    }
    let locked = new Map<string, string>();
    let rounds = 0;
    let writer: Promise<void> | null = null;
    let stop = false;
    const r = await sst(f, {
      onDonorStart: () => {
        writer = (async () => {
          while (!stop) {
            await busyServer(dd, rounds++);
            await new Promise((res) => setTimeout(res, 20));
          }
        })();
      },
      onDonorFailure: async () => {
        stop = true;
        await writer;
      },
      onFlush: async () => {
        stop = true;
        await writer;
        await busyServer(dd, rounds++); // after the hot pass, before the lock
        // In a set the hot pass sent cleanly, changed with its times put back: only its change
        // time tells (the record must not vouch for it; undo002 beside it stays vouched for).
        await rewriteKeepingTimes(`${f.donor.layout.innodbUndoDirectory}/undo001`);
        locked = await treeDigest(dd, isTransferredDatadirFile);
      },
    });
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    const log = r.donor!.stderr;
    assertMatch(log, /hot pre-copy \(the server takes writes\): \d+ parts/);
    assertMatch(log, /locked delta pass: compared .* in [\d.]+ s/);
    const skipped = log.match(
      /locked delta pass: (\d+) file\(s\), .* unchanged since the pre-copy/,
    );
    assert(skipped && Number(skipped[1]) > 0, "the files the writer left alone are not read again");
    // The line says why the others are read: the writer's files changed after the record.
    assertMatch(log, /file\(s\) to compare \(.*\b\d+ changed since the pre-copy began\b/);
    assertMatch(log, /--no-whole-file --block-size=16384/);
    assertMatch(log, /donor writes blocked for [\d.]+ s/);
    assertPhasedLogs(r, ["hot pre-copy", "locked delta pass"]);
    assert(rounds >= 2, `only ${rounds} rounds of writes`);
    assertEquals(
      diffDigests(locked, await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile)),
      [],
    );
  },
);

/** Waits, bounded, until `path` exists with at least one byte. */
async function untilGrown(path: string, limitMs: number): Promise<void> {
  await waitFor(async () => ((await Deno.stat(path).catch(() => null))?.size ?? 0) > 0, {
    every: 20,
    limit: limitMs,
    onTimeout: () => {
      throw new Error(`${path} never got a byte in ${limitMs} ms`);
    },
  });
}

loopbackTest(
  "precopy=on: a directory renamed away while the hot rsync sent its schema and renamed back unchanged before the lock is compared again (rsync named it as vanished); the schema's other files are left out, and the joiner equals the locked state",
  {
    bigTableBytes: 8 * 1024 * 1024,
    donorSstLines: ["precopy=on", "bwlimit=2M"],
  },
  async (f) => {
    const dd = f.donor.layout.datadir;
    const old = new Date(Date.now() - 2 * UNCHANGED_MARGIN_MS);
    for (const file of (await treeDigest(dd, () => true)).keys()) {
      await Deno.utime(`${dd}/${file}`, old, old);
    }
    // rsync sends shop/orders.ibd (4 s at the cap) before shop/sub/nested.dat, in name order;
    // it names the file, or the directory if its incremental scan had not listed it yet.
    let away: Promise<void> | null = null;
    let locked = new Map<string, string>();
    const r = await sst(f, {
      onDonorStart: () => {
        away = untilGrown(`${f.joiner.layout.datadir}/shop/orders.ibd`, 60_000)
          .then(() => Deno.rename(`${dd}/shop/sub`, `${dd}/shop/sub_away`));
      },
      onFlush: async () => {
        await away;
        // Back as it was: a directory's rename changes no time of the files in it.
        await Deno.rename(`${dd}/shop/sub_away`, `${dd}/shop/sub`);
        locked = await treeDigest(dd, isTransferredDatadirFile);
      },
    });
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    const log = r.donor!.stderr;
    assertMatch(
      log,
      /hot pre-copy \(the server takes writes\): \d+ rsync error\(s\) tolerated \(0 file\(s\) shrank while read, 1 vanished; first: file has vanished: ".*\/shop\/sub(?:\/nested\.dat)?"\)/,
    );
    // shop/orders.ibd (8 MiB) is among the files left out: the rsync that met the vanished
    // file sent it whole.
    const skipped = /locked delta pass: \d+ file\(s\), ([\d.]+) MiB, unchanged since the pre-copy/
      .exec(log);
    assert(skipped && Number(skipped[1]) >= 8, `shop's other files are left out:\n${log}`);
    assertMatch(log, /file\(s\) to compare \(.*\b1 not sent whole by the hot pass\b/);
    assertEquals(
      diffDigests(locked, await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile)),
      [],
      "the joiner's files equal the donor's at the lock",
    );
  },
);

loopbackTest(
  "precopy=auto below 1 GiB and precopy=off: one locked pass of whole files, as before",
  { donorSstLines: [] },
  async (f) => {
    for (const line of ["", "precopy=off"]) {
      // The second SST finds the first one's copy on the joiner: delta=auto would compare it.
      if (line) await setSst(f.donor, { precopy: "off", delta: "off" });
      const r = await sst(f);
      assertEquals(r.donor?.code, 0, r.donor?.stderr);
      const log = r.donor!.stderr;
      assert(!/hot pre-copy/.test(log), "a pre-copy ran");
      assertMatch(log, /locked pass: copied .* in [\d.]+ s/);
      assertPhasedLogs(r, ["locked pass"]);
      assert(/--whole-file/.test(log) && !/--no-whole-file/.test(log), "not whole files");
      if (!line) assertMatch(log, /precopy=auto: .* below 256\.0 MiB: one locked pass/);
    }
  },
);

/** Schema `big` in `dd`: `n` tables of `mib` MiB of random bytes each, and one odd-named file. */
async function bigSchema(dd: string, n: number, mib: number): Promise<void> {
  await Deno.mkdir(`${dd}/big`);
  const chunk = new Uint8Array(1024 * 1024);
  for (let i = 1; i <= n; i++) {
    const file = await Deno.open(`${dd}/big/t${i}.ibd`, { write: true, create: true });
    for (let m = 0; m < mib; m++) {
      for (let o = 0; o < chunk.length; o += 65536) {
        crypto.getRandomValues(chunk.subarray(o, o + 65536));
      }
      await file.write(chunk);
    }
    file.close();
  }
  await Deno.writeTextFile(`${dd}/big/odd name.frm`, "stays in the tree");
}

/** The donor's line that says it split schema `big`, as a RegExp. */
const BIG_SPLIT = /schema directory big \([\d.]+ MiB\) holds most of the data: sent in 2 shares/;

loopbackTest(
  "backup-threads=2: one schema with most of the data is sent in two shares; the joiner equals the donor, its stale file in that schema is deleted and its old copy of a shared table overwritten",
  { donorSstLines: ["backup-threads=2"] },
  async (f) => {
    const dd = f.donor.layout.datadir, jd = f.joiner.layout.datadir;
    await bigSchema(dd, 4, 24);
    await Deno.mkdir(`${jd}/big`);
    await Deno.writeTextFile(`${jd}/big/stale.ibd`, "dropped on the donor");
    for (const t of ["t1", "t2", "t3", "t4"]) await Deno.writeTextFile(`${jd}/big/${t}.ibd`, "old");
    const r = await sst(f);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertMatch(r.donor!.stderr, BIG_SPLIT);
    assert(!leftovers(`${jd}/big`).includes("stale.ibd"), "the stale table file is deleted");
    assertEquals(
      diffDigests(
        await treeDigest(dd, isTransferredDatadirFile),
        await treeDigest(jd, isTransferredDatadirFile),
      ),
      [],
    );
  },
);

loopbackTest(
  "precopy=on with a schema in two shares: the locked pass leaves out the shares' files the hot pass sent whole, compares the one written since, and the joiner equals the locked state",
  { donorSstLines: ["precopy=on", "backup-threads=2"] },
  async (f) => {
    const dd = f.donor.layout.datadir;
    await bigSchema(dd, 4, 24);
    const old = new Date(Date.now() - 2 * UNCHANGED_MARGIN_MS);
    for (const file of (await treeDigest(dd, () => true)).keys()) {
      await Deno.utime(`${dd}/${file}`, old, old);
    }
    let locked = new Map<string, string>();
    const r = await sst(f, {
      onFlush: async () => {
        // A page of t4.ibd (whichever share sent it) written after the hot pass read it.
        const file = await Deno.open(`${dd}/big/t4.ibd`, { write: true });
        await file.seek(16384, Deno.SeekMode.Start);
        await file.write(crypto.getRandomValues(new Uint8Array(16384)));
        file.close();
        locked = await treeDigest(dd, isTransferredDatadirFile);
      },
    });
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    const log = r.donor!.stderr;
    assertEquals(linesWith(log, "holds most of the data").length, 2, "hot and locked plans split");
    const skipped = /locked delta pass: \d+ file\(s\), ([\d.]+) MiB, unchanged since the pre-copy/
      .exec(log);
    assert(skipped && Number(skipped[1]) >= 72, `t1–t3 (72 MiB) are left out:\n${log}`);
    assertMatch(log, /file\(s\) to compare \(.*\b1 changed since the pre-copy began\b/);
    assertEquals(
      diffDigests(locked, await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile)),
      [],
      "the joiner's files equal the donor's at the lock",
    );
  },
);
