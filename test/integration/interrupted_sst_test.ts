/**
 * An interrupted SST resumes (issue 27 item 2), over loopback with real rsync and socat.
 *
 * What an SST killed mid-way leaves in the joiner's datadir stays there (rsync writes data in
 * place, `--inplace`), and the next SST to that datadir sends only what is missing or changed.
 * What rsync was writing when the SST died is never trusted: every pass runs with
 * `--ignore-times`, so no file is skipped for an equal size and time, and each is compared by
 * content (delta transfer) or sent whole. rsync's temporary files (`.name.XXXXXX`) are never
 * created in the datadir (only the completion record goes by a temporary file, into the
 * joiner's private directory), and one left there by another tool is removed from the schema
 * directories by the next SST (`--delete`), never installed.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { driveSst, type SideResult } from "../../scripts/lib/sst_driver.ts";
import {
  type Fixture,
  leftoversOf,
  processesMentioning,
  setSst,
  withFixture,
} from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { record } from "../../scripts/lib/ledger.ts";
import { ip, JOINER_IP, makeHosts } from "../support/veth_pair.ts";
import { INCOMPLETE_MARK } from "../../src/sst/incomplete_mark.ts";
import { sleep } from "../../src/proc/process.ts";

const MIB = 1024 ** 2;

/** Every file an SST delivers into `f`'s joiner equals the donor's (the differences). */
async function differences(f: Fixture): Promise<string[]> {
  return diffDigests(
    await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
    await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
  );
}

/** One SST between `f`'s nodes; both sides must succeed. */
async function sst(f: Fixture): Promise<SideResult> {
  const r = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
  assertEquals(r.joiner.code, 0, r.joiner.stderr);
  assertEquals(r.donor?.code, 0, r.donor?.stderr);
  return r.donor!;
}

/** The locked pass's bytes: compared or copied (the plan) and sent (rsync's count). */
function lockedPass(donor: SideResult): { name: string; sent: number } {
  const m = donor.stderr.match(
    /\] (locked(?: delta)? pass): (?:compared|copied) [^,]+, sent [^(]+\((\d+) bytes\) in [\d.]+ s/,
  );
  assert(m, `no locked-pass line in\n${donor.stderr}`);
  return { name: m[1], sent: Number(m[2]) };
}

/**
 * Makes `joinerFile` what an rsync `--inplace` writer killed mid-file leaves at worst: its first
 * `keep` bytes, then zeros up to the donor's length (a file that held the donor's length
 * already, or was extended), with the donor's modification time: rsync's quick check (size and
 * time) would take it for the donor's copy.
 */
async function interruptedCopy(donorFile: string, joinerFile: string, keep: number) {
  const donor = await Deno.stat(donorFile);
  await Deno.truncate(joinerFile, keep);
  await Deno.truncate(joinerFile, donor.size);
  await Deno.utime(joinerFile, donor.atime!, donor.mtime!);
  const mine = await Deno.stat(joinerFile);
  assertEquals(mine.size, donor.size);
  assertEquals(mine.mtime?.getTime(), donor.mtime?.getTime());
}

/** Overwrites 4 KiB at `at` with random bytes, keeping the file's times. */
async function corrupt(file: string, at: number): Promise<void> {
  const st = await Deno.stat(file);
  const f = await Deno.open(file, { write: true });
  try {
    await f.seek(at, Deno.SeekMode.Start);
    await f.write(crypto.getRandomValues(new Uint8Array(4096)));
  } finally {
    f.close();
  }
  await Deno.utime(file, st.atime!, st.mtime!);
}

for (const delta of ["auto", "off"] as const) {
  Deno.test(`delta=${delta}: files an interrupted SST left half-written with the donor's size and modification time are compared and repaired by the next SST, never skipped`, async () => {
    await withFixture({ bigTableBytes: 8 * MIB }, async (f) => {
      await sst(f);
      assertEquals(await differences(f), [], "the first SST's copy");
      const dd = f.donor.layout.datadir;
      const jd = f.joiner.layout.datadir;
      // The big table cut at 3 MiB, ibdata1 at 300 KiB, a page in the middle of an undo file.
      await interruptedCopy(`${dd}/shop/orders.ibd`, `${jd}/shop/orders.ibd`, 3 * MIB);
      await interruptedCopy(
        `${f.donor.layout.innodbDataHomeDir}/ibdata1`,
        `${f.joiner.layout.innodbDataHomeDir}/ibdata1`,
        300 * 1024,
      );
      await corrupt(`${f.joiner.layout.innodbUndoDirectory}/undo002`, 16384);
      const undo = await Deno.stat(`${f.donor.layout.innodbUndoDirectory}/undo002`);
      await Deno.utime(
        `${f.joiner.layout.innodbUndoDirectory}/undo002`,
        undo.atime!,
        undo.mtime!,
      );
      assertEquals((await differences(f)).length, 3, "three files differ before the next SST");

      await setSst(f.donor, { delta });
      const donor = await sst(f);
      assertEquals(await differences(f), [], "the joiner's files equal the donor's");
      assertMatch(donor.stderr, /--ignore-times/);
      const pass = lockedPass(donor);
      const missing = 5 * MIB + 724 * 1024;
      assert(pass.sent >= missing, `sent ${pass.sent} bytes, below the ${missing} missing`);
      if (delta === "auto") {
        assertEquals(pass.name, "locked delta pass");
        assert(pass.sent < 8 * MIB, `delta sent ${pass.sent} bytes`);
      }
      assertEquals(processesMentioning(f.root), [], "no helper process may outlive the SSTs");
    });
  });
}

Deno.test("rsync temporary files (.name.XXXXXX) left in the joiner's schema directories are removed by the next SST, never installed", async () => {
  await withFixture({}, async (f) => {
    await sst(f);
    const jd = f.joiner.layout.datadir;
    const temps = [`${jd}/shop/.orders.ibd.Xa3b9Q`, `${jd}/shop/sub/.nested.dat.k2LmZ0`];
    for (const t of temps) await Deno.writeFile(t, crypto.getRandomValues(new Uint8Array(5000)));
    await sst(f);
    for (const t of temps) {
      assertEquals(await Deno.stat(t).then(() => "there", () => "gone"), "gone", t);
    }
    assertEquals(await differences(f), [], "the joiner's files equal the donor's");
  });
});

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** Every `.name.XXXXXX` file (rsync's temporary file names) under `dir`. */
async function rsyncTempFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await rsyncTempFiles(path));
    else if (/^\..+\.[A-Za-z0-9]{6}$/.test(e.name)) out.push(path);
  }
  return out;
}

/** How the first SST dies once 14 MiB of the big table arrived. */
interface Interruption {
  /** For the test's name and the ledger. */
  what: string;
  /** The joiner's `--parent` (its mariadbd), when the test provides one. */
  parent?: () => Deno.ChildProcess;
  /** Both sides on two hosts joined by a veth pair (veth_pair.ts) instead of loopback. */
  hosts?: boolean;
  /** Kills what dies, given the donor's process, the joiner's parent and the hosts. */
  kill: (donor: { pid: number }, parent: Deno.ChildProcess | null, hosts: Hosts | null) => void;
  /** What the joiner says when it gives up. */
  says: RegExp;
}

const INTERRUPTIONS: Interruption[] = [
  {
    what: "donor SIGKILLed",
    kill: (donor) => Deno.kill(-donor.pid, "SIGKILL"),
    // Its end of the connections closes with it: the joiner's rsync daemon says so at once (a
    // silent link ends on tunnel-idle-timeout instead: network_cut_test.ts).
    says: /\[ERROR\] a transfer from the donor broke off/,
  },
  {
    what: "joiner's server (its --parent) SIGKILLed",
    parent: () => new Deno.Command("sleep", { args: ["300"] }).spawn(),
    kill: (_, parent) => parent?.kill("SIGKILL"),
    says: /\[ERROR\].*(gone|exited|parent)/,
  },
  {
    what: "link cut past tunnel-idle-timeout",
    hosts: true,
    // The joiner's end goes down: packets vanish, both sides wait for tunnel-idle-timeout.
    kill: (_d, _p, h) => ip(["-n", h!.joiner, "link", "set", "vj", "down"]),
    says: /\[ERROR\] no data arrived from the donor for \[sst\] tunnel-idle-timeout=3 s/,
  },
];

type Hosts = NonNullable<ReturnType<typeof makeHosts>>;

/** Whether network namespaces can be made here (the link-cut case needs them). */
const canMakeHosts = (() => {
  const h = makeHosts();
  h?.teardown();
  return h !== null;
})();

for (const it of INTERRUPTIONS) {
  Deno.test({
    name:
      `${it.what} mid-transfer: what arrived stays in the joiner's datadir (no temporary file; the mark of an incomplete SST), and the next SST sends only what is missing`,
    ignore: it.hosts === true && !canMakeHosts,
    fn: () => interruptThenResume(it),
  });
}

async function interruptThenResume(it: Interruption): Promise<void> {
  const hosts = it.hosts ? makeHosts() : null;
  try {
    await withFixture({
      bigTableBytes: 24 * MIB,
      sstLines: ["tunnel-idle-timeout=3"],
      donorSstLines: ["bwlimit=4M"],
      extraSans: hosts ? [`IP:${JOINER_IP}`] : [],
    }, async (f) => {
      const on = (node: Fixture["joiner"], ns: string | undefined) =>
        ns ? { ...node, wrap: ["ip", "netns", "exec", ns] } : node;
      const between = {
        address: hosts ? `${JOINER_IP}:${f.port}` : f.address,
        joiner: on(f.joiner, hosts?.joiner),
        donor: on(f.donor, hosts?.donor),
      };
      const name = `loopback: ${it.what} mid-SST, the next SST resumes`;
      const jd = f.joiner.layout.datadir;
      const table = `${jd}/shop/orders.ibd`;
      const parent = it.parent?.() ?? null;
      let killedAt = -1;
      const first = await driveSst({
        ...between,
        parent: parent?.pid,
        onDonorStart: (donor) => {
          (async () => {
            const deadline = Date.now() + 30_000;
            while (Date.now() < deadline) {
              const size = await Deno.stat(table).then((s) => s.size, () => 0);
              if (size >= 14 * MIB) {
                killedAt = size;
                it.kill(donor, parent, hosts);
                return;
              }
              await sleep(20);
            }
          })();
        },
        // The joiner is left to notice by itself.
        onDonorFailure: async () => {},
      });
      if (parent) {
        try {
          parent.kill("SIGKILL");
        } catch { /* gone */ }
        await parent.status;
      }
      const problems: string[] = [];
      if (killedAt < 0) problems.push("never killed");
      if (first.joiner.code === 0) problems.push("the joiner accepted an interrupted SST");
      if (!it.says.test(first.joiner.stderr)) problems.push(`the joiner did not say ${it.says}`);
      const held = await Deno.stat(table).then((s) => s.size, () => 0);
      if (held < killedAt) problems.push(`the table shrank from ${killedAt} to ${held} bytes`);
      const temps = await rsyncTempFiles(jd);
      if (temps.length > 0) problems.push(`rsync temporary files left: ${temps.join(", ")}`);
      if (!(await exists(`${jd}/${INCOMPLETE_MARK}`))) problems.push("no incomplete mark left");
      // A SIGKILLed donor leaves its own lock and private directory: its next run removes them.
      const left = leftoversOf(f).filter((l) => !l.startsWith("donor "));
      if (left.length > 0) problems.push(`left behind: ${left.join(", ")}`);

      await setSst(f.donor, { bwlimit: null });
      if (hosts) ip(["-n", hosts.joiner, "link", "set", "vj", "up"]);
      const again = await driveSst(between);
      const sent = again.donor?.code === 0 ? lockedPass(again.donor).sent : -1;
      const total = (await Deno.stat(`${f.donor.layout.datadir}/shop/orders.ibd`)).size;
      if (sent < 0) problems.push(`the second SST failed: ${again.joiner.code}`);
      else if (sent > total - held + 4 * MIB) {
        problems.push(`the second SST sent ${sent} bytes with ${held} of ${total} already there`);
      }
      const diff = await differences(f);
      if (diff.length > 0) problems.push(`after the second SST: ${diff.join(", ")}`);
      if (await exists(`${jd}/${INCOMPLETE_MARK}`)) problems.push("the mark outlived the SST");
      record({ kind: "fault", name, ok: problems.length === 0, detail: problems.join("; ") });
      const logs = `${first.joiner.stderr}\n---\n${again.joiner.stderr}\n${again.donor?.stderr}`;
      assertEquals(problems, [], logs);
      assertMatch(
        again.joiner.stderr,
        /\[INFO\] this node holds an earlier copy: [\d.]+ MiB where the SST writes.*, what an interrupted SST left \(an SST to this datadir started at /,
      );
      assertMatch(
        again.donor!.stderr,
        /delta transfer on \(\[sst\] delta=auto: the joiner holds an earlier copy, \d+ MiB\)/,
      );
      assertEquals(processesMentioning(f.root), [], "no helper process may outlive the SSTs");
    });
  } finally {
    hosts?.teardown();
  }
}

Deno.test("a system tablespace cut short by an interrupted SST, with no table file in the schema directories yet, is taken for an earlier copy (the SST's mark): delta transfer, the joiner's files equal the donor's", async () => {
  await withFixture({ bigTableBytes: 16 * MIB }, async (f) => {
    await sst(f);
    const jd = f.joiner.layout.datadir;
    // What an SST killed while it wrote ibdata1 leaves: no schema directory, ibdata1 cut short
    // with the donor's size and time, the mark.
    for (const e of await Array.fromAsync(Deno.readDir(jd))) {
      if (e.isDirectory) await Deno.remove(`${jd}/${e.name}`, { recursive: true });
    }
    await interruptedCopy(
      `${f.donor.layout.innodbDataHomeDir}/ibdata1`,
      `${f.joiner.layout.innodbDataHomeDir}/ibdata1`,
      512 * 1024,
    );
    await Deno.writeTextFile(`${jd}/${INCOMPLETE_MARK}`, "an SST to this datadir started\n");
    const r = await driveSst({ address: f.address, joiner: f.joiner, donor: f.donor });
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertMatch(r.joiner.lines[0], /\/copy-\d+$/);
    assertMatch(
      r.joiner.stderr,
      /this node holds an earlier copy: [\d.]+ MiB where the SST writes, 0\.0 MiB of it in 0 schema\(s\), what an interrupted SST left \(an SST to this datadir started\)/,
    );
    assertMatch(
      r.donor!.stderr,
      /delta transfer on \(\[sst\] delta=auto: the joiner holds an earlier copy/,
    );
    assertEquals(await differences(f), [], "the joiner's files equal the donor's");
    assertEquals(await exists(`${jd}/${INCOMPLETE_MARK}`), false, "the mark is gone");
  });
});

Deno.test("an SST that fails before any data arrived leaves the joiner's datadir as it found it (no mark)", async () => {
  await withFixture({}, async (f) => {
    // No donor: the joiner gives up on tunnel-initial-timeout.
    await setSst(f.joiner, { "tunnel-initial-timeout": "2" });
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      noDonor: true,
    });
    assert(r.joiner.code !== 0, r.joiner.stderr);
    assertEquals(leftoversOf(f), [], "nothing left");
    assertEquals(await exists(`${f.joiner.layout.datadir}/${INCOMPLETE_MARK}`), false);
  });
});
