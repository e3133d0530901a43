/**
 * The pre-copy record after a hot rsync that failed only because some of its files shrank or
 * vanished (src/transfer/precopy_record.ts): the job's other files still qualify, the files its
 * lines name (and everything under a directory they name) never do, even when they are back
 * unchanged (a directory renamed away while rsync read it and renamed back); a line that names
 * a path outside the job, or one rsync escaped, leaves the whole job compared by content.
 * Real files, and lines in real rsync's words (one from a real rsync run here).
 */
import { assertEquals } from "../support/assert.ts";
import { PrecopyRecord, UNCHANGED_MARGIN_MS } from "../../src/transfer/precopy_record.ts";
import { classifyRsyncLine, settledByLockedPass } from "../../src/transfer/rsync_failures.ts";
import type { RsyncJob } from "../../src/transfer/passes.ts";
import { TreeWalk } from "../../src/transfer/selection.ts";

const FILES = ["e2e/a.ibd", "e2e/z.ibd", "e2e/sub/f.ibd", "cold/t.ibd"];

/** A datadir whose files were all last written long ago, and the job that sends two schemas. */
async function datadir(): Promise<{ dir: string; job: RsyncJob }> {
  const dir = await Deno.makeTempDir({ prefix: "precopy_record_" });
  const old = new Date(Date.now() - 2 * UNCHANGED_MARGIN_MS);
  for (const rel of FILES) {
    await Deno.mkdir(`${dir}/${rel.slice(0, rel.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${rel}`, rel);
    await Deno.utime(`${dir}/${rel}`, old, old);
  }
  const job: RsyncJob = {
    label: "schemas",
    selection: { kind: "trees" },
    options: [],
    sources: [`${dir}/cold`, `${dir}/e2e`],
    module: "m",
  };
  return { dir, job };
}

/** The files (relative) the record vouches for, each stat'ed now as under the lock. */
async function vouched(record: PrecopyRecord, job: RsyncJob, dir: string): Promise<string[]> {
  const files = await new TreeWalk().files(job.selection, job.sources);
  return files.filter((f) => record.vouchesFor(f, new Set()))
    .map((f) => f.path.slice(dir.length + 1)).sort();
}

/** The record of `job` after its hot rsync exited `code` printing `lines`. */
async function after(job: RsyncJob, code: number, lines: string[]): Promise<PrecopyRecord> {
  const record = await PrecopyRecord.take(new TreeWalk(), [job], () => Promise.resolve(new Set()));
  const settled = code === 0 ? [] : settledByLockedPass(code, lines);
  if (settled === null) throw new Error(`not tolerated: ${lines.join(" | ")}`);
  record.ended(job, settled);
  return record;
}

const VANISHED_CLOSE =
  "rsync warning: some files vanished before they could be transferred (code 24) at main.c(1394) [sender=3.5.0]";

Deno.test("pre-copy record: after files vanished in a hot rsync, it vouches for the job's other files and never for the files named or under a directory named, though they are back unchanged", async () => {
  const { dir, job } = await datadir();
  try {
    const clean = await after(job, 0, []);
    assertEquals(await vouched(clean, job, dir), [...FILES].sort(), "the control");
    const record = await after(job, 24, [
      `file has vanished: "${dir}/e2e/z.ibd"`,
      `file has vanished: "${dir}/e2e/sub"`,
      VANISHED_CLOSE,
    ]);
    assertEquals(await vouched(record, job, dir), ["cold/t.ibd", "e2e/a.ibd"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pre-copy record: a tolerated line naming a path outside the job, or one rsync escaped, leaves every file of the job to be compared", async () => {
  const { dir, job } = await datadir();
  try {
    for (
      const name of [
        "/elsewhere/z.ibd",
        `${dir}/e2e_other/z.ibd`, // a sibling whose name starts like a source
        `${dir}/e2e/caf\\#303\\#251.ibd`,
      ]
    ) {
      const record = await after(job, 24, [`file has vanished: "${name}"`, VANISHED_CLOSE]);
      assertEquals(await vouched(record, job, dir), [], name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pre-copy record: a real rsync whose source schema was dropped before it started names it as the job's source; the job's other files qualify", async () => {
  const { dir, job } = await datadir();
  const dest = await Deno.makeTempDir({ prefix: "precopy_record_dest_" });
  try {
    const withGone = { ...job, sources: [...job.sources, `${dir}/gone`] };
    const record = await PrecopyRecord.take(
      new TreeWalk(),
      [withGone],
      () => Promise.resolve(new Set()),
    );
    const r = await new Deno.Command("rsync", {
      args: ["-r", ...withGone.sources, `${dest}/`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const lines = new TextDecoder().decode(r.stderr).split("\n").filter((l) => l.trim());
    const settled = settledByLockedPass(r.code, lines);
    assertEquals(
      settled?.map((l) => classifyRsyncLine(l.text).kind),
      ["vanished"],
      lines.join("\n"),
    );
    record.ended(withGone, settled ?? []);
    assertEquals(await vouched(record, withGone, dir), [...FILES].sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dest, { recursive: true });
  }
});

Deno.test("pre-copy record: says why each file it cannot vouch for is compared, one reason per check of its list", async () => {
  const { dir, job } = await datadir();
  try {
    const star = "e2e/st*r.ibd";
    await Deno.writeTextFile(`${dir}/${star}`, "star");
    await Deno.writeTextFile(`${dir}/e2e/recent.ibd`, "written just now");
    const old = new Date(Date.now() - 2 * UNCHANGED_MARGIN_MS);
    await Deno.utime(`${dir}/${star}`, old, old);
    const record = await after(job, 24, [`file has vanished: "${dir}/e2e/z.ibd"`, VANISHED_CLOSE]);
    await new Promise((r) => setTimeout(r, 30)); // past the file system's time granularity
    await Deno.writeTextFile(`${dir}/e2e/a.ibd`, "changed", { append: true });
    await Deno.writeTextFile(`${dir}/e2e/created.ibd`, "after the record");
    const files = await new TreeWalk().files(job.selection, job.sources);
    const inoOf = (rel: string) => String(files.find((f) => f.rel.endsWith(rel))!.info.ino);
    const mapped = new Set([inoOf("sub/f.ibd")]);
    const verdicts = Object.fromEntries(
      files.map((f) => [f.path.slice(dir.length + 1), record.verdict(f, mapped)]),
    );
    assertEquals(verdicts, {
      "cold/t.ibd": "unchanged",
      "e2e/a.ibd": "changed",
      "e2e/created.ibd": "new",
      "e2e/recent.ibd": "recent",
      "e2e/st*r.ibd": "name",
      "e2e/sub/f.ibd": "mapped",
      "e2e/z.ibd": "not-sent-whole",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
