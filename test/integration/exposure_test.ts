/**
 * Issue 4, item 6 (exposure): while a transfer runs, the per-SST secret is in no process's
 * command line and in neither side's log, nothing we create is readable by group or others,
 * nothing but the joiner's TLS port listens, and a local unprivileged user (`nobody`, through
 * `setpriv --reuid=65534 --regid=65534 --clear-groups`) cannot write data or a completion
 * record into a waiting joiner — neither in plaintext, nor over TLS without a client
 * certificate, nor with a certificate from another CA.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { driveSst, type SstResult } from "../../scripts/lib/sst_driver.ts";
import {
  type Fixture,
  leftovers,
  makeFixture,
  processesMentioning,
} from "../../scripts/lib/fixture.ts";
import { makeCa, makeLeaf } from "../../scripts/lib/pki.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { record, recordCount } from "../../scripts/lib/ledger.ts";
import { commandLine, commandName } from "../../src/proc/liveness.ts";
import { socketInodes, tcpListeners } from "../../src/tunnel/listen_check.ts";
import { COMPLETION_FILE, renderCompletion } from "../../src/transfer/completion.ts";

const transferred = isTransferredDatadirFile;

async function sameData(f: Fixture): Promise<string[]> {
  return diffDigests(
    await treeDigest(f.donor.layout.datadir, transferred),
    await treeDigest(f.joiner.layout.datadir, transferred),
  );
}

/** Every process whose command line contains `secret` (all of /proc, not only ours). */
function cmdlinesWith(secret: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const argv = commandLine(Number(e.name));
    if (argv && argv.join(" ").includes(secret)) out.push(`${e.name}: ${argv.join(" ")}`);
  }
  return out;
}

/**
 * Every process whose environment contains `secret`, but for the donor itself: mariadbd puts
 * the secret into the donor's environment (`WSREP_SST_OPT_REMOTE_AUTH`), and no child of the
 * donor may inherit it.
 */
function environsWith(secret: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let env: string;
    try {
      env = new TextDecoder().decode(Deno.readFileSync(`/proc/${e.name}/environ`));
    } catch {
      continue; // gone meanwhile
    }
    if (!env.includes(secret)) continue;
    const argv = commandLine(Number(e.name)) ?? [];
    if (argv[argv.indexOf("--role") + 1] === "donor") continue;
    out.push(`environ ${e.name}: ${argv.join(" ")}`);
  }
  return out;
}

/**
 * Entries under `dir` (recursively, not following links) that group or others can read:
 * files with a g/o read bit, directories with a g/o read or search bit.
 */
function groupOrOtherReadable(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(p);
    } catch {
      return; // removed meanwhile
    }
    const mode = (st.mode ?? 0) & 0o777;
    if (st.isDirectory) {
      if (mode & 0o055) out.push(`${p} (dir ${mode.toString(8)})`);
      let entries: Deno.DirEntry[] = [];
      try {
        entries = [...Deno.readDirSync(p)];
      } catch { /* removed meanwhile */ }
      for (const e of entries) walk(`${p}/${e.name}`);
    } else if (st.isFile && mode & 0o044) {
      out.push(`${p} (${mode.toString(8)})`);
    }
  };
  try {
    for (const e of Deno.readDirSync(dir)) walk(`${dir}/${e.name}`);
  } catch { /* gone */ }
  return out;
}

/** Our files in the datadirs: lock, in-progress marker, binlog staging directory. */
function datadirFilesOf(f: Fixture): string[] {
  const out: string[] = [];
  const check = (p: string, dirMask: number) => {
    try {
      const st = Deno.lstatSync(p);
      const mode = (st.mode ?? 0) & 0o777;
      if (mode & (st.isDirectory ? dirMask : 0o044)) out.push(`${p} (${mode.toString(8)})`);
    } catch { /* not there right now */ }
  };
  for (const n of [f.joiner, f.donor]) check(`${n.layout.datadir}/wsrep_sst.pid`, 0o055);
  check(`${f.joiner.layout.datadir}/sst_in_progress`, 0o055);
  const binlogDir = f.joiner.layout.binlogBase?.replace(/\/[^/]+$/, "");
  if (binlogDir) check(`${binlogDir}/wsrep_sst_binlogs.tmp`, 0o055);
  return out;
}

/** Listening TCP ports held by the given processes. */
function listeningPorts(pids: number[]): number[] {
  const inodes = new Set(pids.flatMap((p) => [...socketInodes(p)]));
  return [...new Set(tcpListeners().filter((l) => inodes.has(l.inode)).map((l) => l.port))];
}

function pidsOf(f: Fixture): number[] {
  return processesMentioning(f.root).map((l) => Number(l.slice(0, l.indexOf(":"))));
}

/**
 * Entries under `dir` that a user other than the owner could actually open: a g/o-readable
 * file or directory all of whose ancestors below `dir` are g/o-searchable.
 */
function reachableByOthers(dir: string, entries: string[]): string[] {
  return entries.filter((e) => {
    const path = e.replace(/ \(.*\)$/, "");
    let p = path.slice(0, path.lastIndexOf("/"));
    while (p.length > dir.length) {
      try {
        if (((Deno.lstatSync(p).mode ?? 0) & 0o011) === 0) return false;
      } catch {
        return false;
      }
      p = p.slice(0, p.lastIndexOf("/"));
    }
    return true;
  });
}

Deno.test("exposure: during a 64 MiB transfer the secret is in no command line, no helper's environment or log, nothing we create can be opened by other users, and only the joiner's TLS port listens", async () => {
  const f = await makeFixture({ bigTableBytes: 64 * 1024 * 1024, binlog: true });
  const exposed = new Set<string>();
  const readable = new Set<string>();
  const reachable = new Set<string>();
  const plaintext = new Set<string>();
  let samples = 0;
  let samplesDuringCopy = 0;
  let secret = "";
  let sampler: ReturnType<typeof setInterval> | undefined;
  const sample = () => {
    samples++;
    const pids = pidsOf(f);
    if (pids.some((p) => commandName(p) === "rsync")) samplesDuringCopy++;
    for (const c of cmdlinesWith(secret)) exposed.add(`cmdline ${c}`);
    for (const c of environsWith(secret)) exposed.add(c);
    for (const dir of [f.joiner.tmpdir, f.donor.tmpdir]) {
      const found = groupOrOtherReadable(dir);
      for (const r of found) readable.add(r);
      for (const r of reachableByOthers(dir, found)) reachable.add(r);
    }
    for (const r of datadirFilesOf(f)) {
      readable.add(r);
      reachable.add(r);
    }
    for (const port of listeningPorts(pids)) {
      if (port !== f.port) plaintext.add(`port ${port}`);
    }
  };
  try {
    let r: SstResult;
    try {
      r = await driveSst({
        address: f.address,
        joiner: f.joiner,
        donor: f.donor,
        timeoutMs: 90_000,
        onReady: (value) => {
          secret = value.slice(0, value.lastIndexOf("@"));
          sample();
          sampler = setInterval(sample, 150);
          return Promise.resolve();
        },
      });
    } finally {
      clearInterval(sampler);
    }
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assert(/^[0-9a-f]{32,}$/.test(secret), `no secret in ready: ${r.joiner.lines[0]}`);
    for (const [side, text] of [["joiner", r.joiner.stderr], ["donor", r.donor!.stderr]]) {
      if (text.includes(secret)) exposed.add(`${side} stderr`);
    }
    const orphans = processesMentioning(f.root);
    recordCount(
      "secrets-exposed",
      "64 MiB SST: /proc/*/cmdline, the helpers' /proc/*/environ and both stderr",
      exposed.size,
      [
        ...exposed,
      ].join("; ") || `${samples} samples, ${samplesDuringCopy} during the copy`,
    );
    recordCount(
      "world-readable-files",
      "64 MiB SST: private dirs, rsync config, secrets, password file, completion record, pid file, sst_in_progress",
      readable.size,
      [...readable].map((e) => reachable.has(e) ? `${e} OPEN TO OTHERS` : `${e} inside a 0700 dir`)
        .join("; ") || `${samples} samples`,
    );
    recordCount(
      "plaintext-listeners",
      "64 MiB SST: listeners of our helpers",
      plaintext.size,
      [
        ...plaintext,
      ].join("; ") || undefined,
    );
    recordCount("orphans", "after the 64 MiB SST", orphans.length, orphans.join("; ") || undefined);
    assert(samplesDuringCopy >= 3, `only ${samplesDuringCopy} samples while rsync ran`);
    assertEquals([...exposed], [], "the secret must not be exposed");
    assertEquals([...reachable], [], "nothing we create may be open to other users");
    assertEquals([...plaintext], [], "only the joiner's TLS port may listen");
    assertEquals(orphans, []);
    assertEquals(await sameData(f), []);
  } finally {
    await f.cleanup();
  }
});

/** Files an unprivileged attacker owns: payloads, rsh scripts, a key pair from another CA. */
interface Attacker {
  dir: string;
  run(label: string, cmd: string[], env?: Record<string, string>): Promise<AttackResult>;
}

interface AttackResult {
  label: string;
  code: number;
  output: string;
}

async function makeAttacker(f: Fixture): Promise<Attacker> {
  const dir = await Deno.makeTempDir({ prefix: "sst-attacker." });
  await Deno.chmod(dir, 0o755);
  await Deno.writeTextFile(`${dir}/injected.ibd`, "attacker data\n");
  await Deno.writeTextFile(
    `${dir}/${COMPLETION_FILE}`,
    renderCompletion({
      state: "f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc:99 0",
      secret: "0".repeat(32),
      bypass: false,
    }),
  );
  const rogueCa = await makeCa(dir, "attacker-ca");
  const rogue = await makeLeaf(dir, rogueCa, "attacker", {
    cn: "localhost",
    sans: ["DNS:localhost", "IP:127.0.0.1"],
  });
  const tls = `OPENSSL:127.0.0.1:${f.port},verify=0,no-sni=1`;
  const scripts: Record<string, string> = {
    "rsh-no-cert": `exec socat - ${tls}`,
    "rsh-other-ca": `exec socat - ${tls},cert=${rogue.cert},key=${rogue.key}`,
  };
  for (const [name, body] of Object.entries(scripts)) {
    await Deno.writeTextFile(`${dir}/${name}`, `#!/bin/sh\n${body}\n`);
    await Deno.chmod(`${dir}/${name}`, 0o755);
  }
  for await (const e of Deno.readDir(dir)) await Deno.chown(`${dir}/${e.name}`, 65534, 65534);
  return {
    dir,
    run: async (label, cmd, env = {}) => {
      const out = await new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "timeout",
          "20",
          ...cmd,
        ],
        cwd: dir,
        env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      return { label, code: out.code, output: output.replace(/\s+/g, " ").trim() };
    },
  };
}

Deno.test("exposure: a local unprivileged user cannot write data or a completion record into a waiting joiner (plaintext, TLS without or with a foreign certificate); the SST then succeeds", async () => {
  const f = await makeFixture();
  const attacker = await makeAttacker(f);
  try {
    const attacks: AttackResult[] = [];
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      timeoutMs: 90_000,
      onReady: async () => {
        const env = { RSYNC_PASSWORD: "0".repeat(32) };
        const files = ["injected.ibd", COMPLETION_FILE];
        for (
          const [module, file] of [["rsync_tunnel_sst", files[0]], [
            "rsync_tunnel_sst-complete",
            files[1],
          ]]
        ) {
          attacks.push(
            await attacker.run(
              `plaintext rsync to ${module}`,
              [
                "rsync",
                "--timeout=10",
                "--contimeout=10",
                file,
                `rsync://sst@127.0.0.1:${f.port}/${module}/`,
              ],
              env,
            ),
          );
          for (const rsh of ["rsh-no-cert", "rsh-other-ca"]) {
            attacks.push(
              await attacker.run(
                `rsync over TLS (${
                  rsh === "rsh-no-cert" ? "no client certificate" : "certificate from another CA"
                }) to ${module}`,
                [
                  "rsync",
                  "--timeout=10",
                  `--rsh=${attacker.dir}/${rsh}`,
                  file,
                  `sst@joiner::${module}/`,
                ],
                env,
              ),
            );
          }
        }
        attacks.push(
          await attacker.run("raw socat - OPENSSL:…,verify=0 without a client certificate", [
            "sh",
            "-c",
            `printf '@RSYNCD: 31.0\\nrsync_tunnel_sst\\n' | socat - OPENSSL:127.0.0.1:${f.port},verify=0,no-sni=1`,
          ]),
        );
      },
    });
    const written = leftovers(f.joiner.layout.datadir).filter((n) => n === "injected.ibd");
    // rsync must fail; the raw socat client may exit 0 (TLS 1.3 completes on the client before
    // the server checks its certificate) but must never see the daemon's greeting.
    const refused = (a: AttackResult) =>
      (a.label.startsWith("raw") || a.code !== 0) && !/@RSYNCD/.test(a.output);
    for (const a of attacks) {
      record({
        kind: "bad-input",
        name: `local user (nobody): ${a.label}`,
        ok: refused(a) && written.length === 0,
        detail: `exit ${a.code}: ${a.output}`.slice(0, 300),
      });
    }
    const orphans = processesMentioning(f.root);
    recordCount("orphans", "after the local-user injection attempts", orphans.length);
    assertEquals(attacks.length, 7);
    for (const a of attacks) assert(refused(a), `${a.label} must be refused: ${a.output}`);
    assertEquals(written, [], "the attacker's file must not reach the joiner's datadir");
    assertEquals(r.joiner.code, 0, `the SST must still succeed:\n${r.joiner.stderr}`);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertEquals(
      r.joiner.lines[1],
      "f31c0ff9-eaae-11f1-9de2-17c3d7b02ddc:13 0",
      "the donor's state",
    );
    assertEquals(await sameData(f), [], "the joiner holds exactly the donor's data");
    assertEquals(orphans, []);
  } finally {
    await Deno.remove(attacker.dir, { recursive: true });
    await f.cleanup();
  }
});

Deno.test({
  name: "exposure: every file we create during an SST is mode 0600 and every directory 0700",
  fn: async () => {
    const f = await makeFixture({ binlog: true });
    const readable = new Set<string>();
    let sampler: ReturnType<typeof setInterval> | undefined;
    try {
      const r = await driveSst({
        address: f.address,
        joiner: f.joiner,
        donor: f.donor,
        timeoutMs: 90_000,
        onReady: () => {
          sampler = setInterval(() => {
            for (const dir of [f.joiner.tmpdir, f.donor.tmpdir]) {
              for (const e of groupOrOtherReadable(dir)) readable.add(e);
            }
            for (const e of datadirFilesOf(f)) readable.add(e);
          }, 100);
          return Promise.resolve();
        },
      });
      clearInterval(sampler);
      assertEquals(r.joiner.code, 0, r.joiner.stderr);
      assertEquals([...readable], []);
    } finally {
      clearInterval(sampler);
      await f.cleanup();
    }
  },
});
