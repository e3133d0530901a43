/**
 * `[mysqld] tmpdir=<datadir>/tmp` on both nodes (which the program reads as its own tmpdir),
 * driven over loopback as mariadbd drives it: our private directories are made outside the
 * datadir (said in one INFO line), so the donor neither sends its own (with the secret) nor
 * deletes the joiner's; mariadbd's own `tmp` directory is not a schema: the donor does not send
 * its temporary files and the joiner keeps its directory.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { driveSst, TEST_STATE } from "../../scripts/lib/sst_driver.ts";
import { type FixtureNode, leftovers, withFixture } from "../../scripts/lib/fixture.ts";
import { check } from "../../scripts/lib/ledger.ts";

/** Every path below `dir`, relative. */
function walk(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const rel = `${prefix}${e.name}`;
    out.push(rel);
    if (e.isDirectory) out.push(...walk(`${dir}/${e.name}`, `${rel}/`));
  }
  return out;
}

/** `node` with `[mysqld] tmpdir=<datadir>/tmp` and `$TMPDIR` its fixture tmpdir. */
async function tmpdirInside(node: FixtureNode, file: string): Promise<FixtureNode> {
  const tmp = `${node.layout.datadir}/tmp`;
  await Deno.mkdir(tmp);
  await Deno.writeTextFile(`${tmp}/${file}`, "mariadbd's temporary file");
  await Deno.writeTextFile(node.defaultsFile, `[mysqld]\ntmpdir=${tmp}\n`, { append: true });
  return { ...node, env: { TMPDIR: node.tmpdir } };
}

Deno.test("tmpdir inside the datadir on both nodes: the SST succeeds, no private directory or secret reaches the joiner's datadir, mariadbd's tmp directories stay each node's own", async () => {
  await withFixture({}, async (f) => {
    const donor = await tmpdirInside(f.donor, "#sql-donor.MAI");
    const joiner = await tmpdirInside(f.joiner, "#sql-joiner.MAI");
    const r = await driveSst({ address: f.address, joiner, donor });
    const problems: string[] = [];
    if (r.joiner.code !== 0) problems.push(`joiner exit ${r.joiner.code}: ${r.joiner.stderr}`);
    if (r.donor?.code !== 0) problems.push(`donor exit ${r.donor?.code}: ${r.donor?.stderr}`);
    if (r.joiner.lines[1] !== TEST_STATE) problems.push("no final state");
    for (
      const [side, n, out] of [["joiner", joiner, r.joiner], ["donor", donor, r.donor]] as const
    ) {
      const said = `[INFO] tmpdir ${n.layout.datadir}/tmp is inside the datadir ` +
        `${n.layout.datadir}, which the SST copies and cleans: private directory made in ` +
        `${n.tmpdir} instead`;
      if (!out?.stderr.includes(said)) {
        problems.push(`${side} did not say where its private directory went`);
      }
    }
    const arrived = walk(f.joiner.layout.datadir);
    const leaked = arrived.filter((p) =>
      /wsrep_sst_rsync_tunnel\.|rsync\.password|rsyncd\.|#sql-donor/.test(p)
    );
    if (leaked.length > 0) problems.push(`in the joiner's datadir: ${leaked.join(", ")}`);
    if (!arrived.includes("tmp/#sql-joiner.MAI")) problems.push("the joiner's own tmp was emptied");
    check("accepted-input", "tmpdir inside the datadir on both nodes", problems);
    assertEquals(leftovers(f.joiner.tmpdir), [], "joiner's private directory removed at its end");
    assertEquals(leftovers(f.donor.tmpdir), [], "donor's private directory removed at its end");
  });
});
