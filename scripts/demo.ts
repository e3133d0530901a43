/**
 * `deno task demo`: a real encrypted SST between two local nodes, on an embedded default.
 *
 * Generates a CA and two node certificates, a donor datadir with the MariaDB 10.11 layout
 * (system tablespace, redo log, undo tablespaces, Aria logs, schema directories, binary logs,
 * and files that must not travel), runs our joiner and donor exactly as two mariadbd would
 * (argv, `ready`, `WSREP_SST_OPT_REMOTE_AUTH`, `flush tables` → `tables_flushed`), and checks
 * that the joiner ends up with an identical copy. `--keep` keeps the directory.
 *
 * @module
 */
import { driveSst, TEST_STATE } from "./lib/sst_driver.ts";
import { makeFixture } from "./lib/fixture.ts";
import { diffDigests, isTransferredDatadirFile, treeDigest } from "./lib/sample_datadir.ts";

const keep = Deno.args.includes("--keep");
const say = (s: string) => console.log(s);

say("wsrep_sst_rsync_tunnel demo: encrypted SST between two local nodes");
const f = await makeFixture({ separateDirs: true, binlog: true, bigTableBytes: 32 * 1024 * 1024 });
say(`  workspace      ${f.root}`);
say(`  certificates   CA ${f.ca.cert}; node certificates CN=localhost, SAN localhost/127.0.0.1`);
say(
  `  donor datadir  ${f.donor.layout.datadir} (+ separate ibdata, redo, undo, aria, binlog dirs)`,
);
say(`  joiner datadir ${f.joiner.layout.datadir} (empty)`);
say(`  SST address    ${f.address}`);

const started = performance.now();
const r = await driveSst({
  address: f.address,
  joiner: f.joiner,
  donor: f.donor,
  state: TEST_STATE,
});
const seconds = ((performance.now() - started) / 1000).toFixed(1);

say("\njoiner stdout (what mariadbd reads):");
for (const l of r.joiner.lines) say(`  ${l.replace(/^ready [0-9a-f]{32}@/, "ready <secret>@")}`);
say("donor stdout:");
for (const l of r.donor?.lines ?? []) say(`  ${l}`);

const diff = diffDigests(
  await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
  await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
);
const ok = r.joiner.code === 0 && r.donor?.code === 0 && diff.length === 0 &&
  r.joiner.lines.at(-1) === TEST_STATE;
if (!ok) {
  console.error("\njoiner log:\n" + r.joiner.stderr + "\ndonor log:\n" + (r.donor?.stderr ?? ""));
  console.error(`differences: ${diff.join(", ") || "none"}`);
}
say(
  `\n${ok ? "OK" : "FAILED"}: SST ${ok ? "completed" : "did not complete"} in ${seconds} s; ` +
    `joiner exit ${r.joiner.code}, donor exit ${r.donor?.code}; ${diff.length} file differences`,
);
if (keep) say(`kept ${f.root}`);
else await f.cleanup();
Deno.exit(ok ? 0 : 1);
