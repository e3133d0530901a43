/**
 * How the clone pass splits the locked plan (src/transfer/clone_pass.ts), on a real XFS
 * (`reflink=1`, loop-mounted: root): every file the locked pass reads is cloned under its
 * relative name; a file that cannot be cloned (a link to a file on another file system) goes to
 * the locked pass, each pass excluding the other's files; schema directories are mirrored, empty
 * ones too; the clone pass sends from the clone roots and hands each job's clones back, each
 * one as soon as a real rsync names it as opened; the scope removes the snapshot directory.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { donorSettings, privateWriter } from "../support/donor_settings.ts";
import { withLoopFs } from "../../scripts/lib/loop_fs.ts";
import { Scope } from "../../src/sst/scope.ts";
import { lockedReads, planCopy } from "../../src/transfer/copy_plan.ts";
import { cloneUnderLock, prepareClones, rebasePlan } from "../../src/transfer/clone_pass.ts";
import { SNAPSHOT_PREFIX, TreeWalk } from "../../src/transfer/selection.ts";
import type { RsyncJob } from "../../src/transfer/passes.ts";
import { OPENED_PREFIX, stdoutText } from "../../src/transfer/rsync_runner.ts";

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);

/**
 * Runs a real rsync of `job` to `dest` that names each file it opens, handing each name to
 * `opened` as it comes; returns the names (it must succeed).
 */
async function rsyncNamingOpened(
  job: RsyncJob,
  dest: string,
  opened: (name: string) => void,
): Promise<string[]> {
  const child = new Deno.Command("rsync", {
    args: [
      "--recursive",
      `--out-format=${OPENED_PREFIX}%n`,
      ...job.options,
      "--",
      ...job.sources,
      dest,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const names: string[] = [];
  await stdoutText(child.stdout, (name) => {
    names.push(name);
    opened(name);
  });
  assert((await child.status).success, `rsync of ${job.label}`);
  return names;
}

Deno.test("clone pass on XFS: clones keep their names, a file on another file system goes to the locked pass (each pass excludes the other's), empty schema directories are mirrored, the clone pass sends from the clones and releases each as rsync opens it", async () => {
  const outside = await Deno.makeTempDir({ prefix: "clone-pass-outside-" });
  try {
    await withLoopFs("xfs", 320, async (fs) => {
      const dd = `${fs.dir}/data`;
      for (const d of [dd, `${dd}/s1`, `${dd}/s1/sub`, `${dd}/s2`, `${dd}/mysql`]) {
        await Deno.mkdir(d);
      }
      const files: Record<string, Uint8Array> = {
        "ibdata1": bytes(1 << 20, 1),
        "ib_logfile0": bytes(1 << 20, 2),
        "undo001": bytes(65536, 3),
        "aria_log_control": bytes(52, 4),
        "s1/t.ibd": bytes(196608, 5),
        "s1/t.frm": bytes(1000, 6),
        "mysql/user.MAD": bytes(8192, 7),
      };
      for (const [rel, data] of Object.entries(files)) await Deno.writeFile(`${dd}/${rel}`, data);
      await Deno.writeFile(`${outside}/far.MYD`, bytes(4096, 8));
      await Deno.symlink(`${outside}/far.MYD`, `${dd}/s1/far.MYD`);
      const cnf = `${fs.dir}/my.cnf`;
      await Deno.writeTextFile(cnf, "[sst]\nclone=on\nclone-floor=1M\n");
      const settings = await donorSettings(dd, cnf);
      const scope = new Scope();
      const private_ = await Deno.makeTempDir({ prefix: "clone-pass-private-" });
      const writer = privateWriter(private_);
      try {
        const setup = await prepareClones(settings, scope);
        assert(setup.snapshots, "the datadir clones");
        const walk = new TreeWalk();
        const plan = await planCopy(settings, walk, true);
        const reads = await lockedReads(plan, null, walk, writer);
        const cloned = await cloneUnderLock(setup, reads, walk, writer);
        const snapshot = setup.snapshots.fileSystems[0].path;
        assert(snapshot.startsWith(`${dd}/${SNAPSHOT_PREFIX}`), snapshot);

        assertEquals(cloned.run.uncloned.map((u) => [u.rel, u.errno]), [["s1/far.MYD", "EXDEV"]]);
        assertEquals(cloned.run.cloned.length, Object.keys(files).length);
        const root = cloned.roots[0].to;
        for (const [rel, data] of Object.entries(files)) {
          assertEquals(await Deno.readFile(`${root}/${rel}`), data, `${rel} cloned whole`);
        }
        for (const d of ["s2", "s1/sub"]) {
          assert((await Deno.stat(`${root}/${d}`)).isDirectory, `${d} mirrored`);
        }

        // The schema job of s1 is split: the locked pass excludes the clones, the clone pass
        // the file it could not clone; the structure pass goes with the clones.
        assert(cloned.locked, "a locked pass sends the uncloned file");
        assertEquals(cloned.locked.lead, undefined);
        assertEquals(cloned.locked.jobs.length, 1);
        const lockedJob = cloned.locked.jobs[0].job;
        const excluded = (job: { options: string[] }) =>
          job.options.filter((o) => o.startsWith("--exclude-from="))
            .flatMap((o) =>
              Deno.readTextFileSync(o.slice("--exclude-from=".length)).trim().split("\n")
            );
        assertEquals(excluded(lockedJob).sort(), ["/s1/t.frm", "/s1/t.ibd"]);
        assertEquals(cloned.locked.jobs[0].bytes, 4096);
        const cloneJob = cloned.clone.jobs.find((s) => s.job.label === lockedJob.label)!.job;
        assertEquals(excluded(cloneJob), ["/s1/far.MYD"]);
        assert(cloned.clone.lead, "the structure pass sends from the clones");

        const sent = rebasePlan(cloned.clone, cloned.roots);
        for (const s of [sent.lead!, ...sent.jobs.map((j) => j.job)]) {
          for (const src of s.sources) assert(src.startsWith(`${root}/`) || src === root, src);
        }
        assertEquals(
          sent.jobs.map((j) => j.job.module),
          cloned.clone.jobs.map((j) => j.job.module),
        );
        const ibdata = sent.jobs.find((j) => j.job.label === "InnoDB system tablespace")!.job;
        cloned.sent(ibdata);
        const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
        assert(!(await exists(`${root}/ibdata1`)), "released");
        assert(await Deno.stat(`${dd}/ibdata1`), "the server's file stays");

        // Every other job, run by a real rsync that names each file it opens: each clone goes
        // as its name comes, before the job ends; what arrives is the clones' content.
        const dest = await Deno.makeTempDir({ prefix: "clone-pass-dest-" });
        try {
          for (const { job } of sent.jobs.filter((j) => j.job !== ibdata)) {
            const names = await rsyncNamingOpened(job, `${dest}/`, (n) => cloned.opened(job, n));
            assert(names.length > 0, `${job.label}: rsync named the files it opened`);
          }
          for (const [rel, data] of Object.entries(files)) {
            assert(!(await exists(`${root}/${rel}`)), `${rel}: released once rsync opened it`);
            assertEquals(await Deno.readFile(`${dd}/${rel}`), data, `${rel}: the server's file`);
          }
          assertEquals(await Deno.readFile(`${dest}/s1/t.ibd`), files["s1/t.ibd"], "sent whole");
        } finally {
          await Deno.remove(dest, { recursive: true });
        }
      } finally {
        await scope.close();
        await Deno.remove(private_, { recursive: true });
      }
      const left = [...Deno.readDirSync(dd)].filter((e) => e.name.startsWith(SNAPSHOT_PREFIX));
      assertEquals(left.map((e) => e.name), [], "the scope removed the snapshot directory");
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("clone pass on XFS with a schema in two shares: the share's job (its files into the schema's directory) sends from the clones and releases each as rsync opens it", async () => {
  await withLoopFs("xfs", 320, async (fs) => {
    const dd = `${fs.dir}/data`;
    for (const d of [dd, `${dd}/big`, `${dd}/mysql`]) await Deno.mkdir(d);
    const files: Record<string, Uint8Array> = {
      "ibdata1": bytes(1 << 20, 1),
      "ib_logfile0": bytes(1 << 20, 2),
      "mysql/user.MAD": bytes(8192, 7),
    };
    for (let i = 1; i <= 4; i++) files[`big/t${i}.ibd`] = bytes(24 << 20, 10 + i);
    for (const [rel, data] of Object.entries(files)) await Deno.writeFile(`${dd}/${rel}`, data);
    const cnf = `${fs.dir}/my.cnf`;
    await Deno.writeTextFile(cnf, "[sst]\nclone=on\nclone-floor=1M\nbackup-threads=2\n");
    const settings = await donorSettings(dd, cnf);
    const scope = new Scope();
    const private_ = await Deno.makeTempDir({ prefix: "clone-pass-private-" });
    const writer = privateWriter(private_);
    const dest = await Deno.makeTempDir({ prefix: "clone-pass-dest-" });
    try {
      const setup = await prepareClones(settings, scope);
      const walk = new TreeWalk();
      const plan = await planCopy(settings, walk, true);
      const reads = await lockedReads(plan, null, walk, writer);
      const cloned = await cloneUnderLock(setup, reads, walk, writer);
      assertEquals(cloned.locked, null, "everything clones");
      const root = cloned.roots[0].to;
      const sent = rebasePlan(cloned.clone, cloned.roots);
      const share = sent.jobs.find((j) => j.job.path === "big/");
      assert(share, `a share job: ${sent.jobs.map((j) => j.job.label)}`);
      assertEquals(share.job.selection.kind, "files");
      assertEquals(share.bytes, 48 << 20);
      for (const { job } of sent.jobs) {
        await rsyncNamingOpened(job, `${dest}/${job.path ?? ""}`, (n) => cloned.opened(job, n));
      }
      const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
      for (const [rel, data] of Object.entries(files)) {
        if (!rel.startsWith("big/")) continue;
        assert(!(await exists(`${root}/${rel}`)), `${rel}: released once rsync opened it`);
        assertEquals(await Deno.readFile(`${dest}/${rel}`), data, `${rel} arrived whole`);
      }
    } finally {
      await scope.close();
      await Deno.remove(private_, { recursive: true });
      await Deno.remove(dest, { recursive: true });
    }
  });
});
