/**
 * What the packages say about the project and what they give an operator to start from, checked
 * without building them: every maintainer field (Debian control via scripts/package_identity.ts,
 * the RPM's Packager: and %changelog, the Debian changelog trailer, the copyright file's
 * Upstream-Contact:) names the same maintainer, nothing says example.invalid, the spec has no
 * obsolete Group: tag; the example configuration shipped in the doc directories
 * (packaging/sst.cnf) is read by our option reader as the README's Configuration block says,
 * and every `[sst]` key it mentions (also the commented ones) is a key the program knows.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { MAINTAINER } from "../../scripts/package_identity.ts";
import { readAllOptions } from "../../src/config/option_file.ts";
import { SST_KEYS } from "../../src/config/sst_keys.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const read = (p: string) => Deno.readTextFile(`${REPO}/${p}`);

Deno.test("every maintainer field of both packages names the project's maintainer; no example.invalid; no Group: tag", async () => {
  assertEquals(
    MAINTAINER,
    "wsrep_sst_rsync_tunnel developers <maintainers@users.noreply.r-seed-9614de1b.example>",
  );
  const spec = await read("packaging/wsrep_sst_rsync_tunnel.spec");
  assertEquals(spec.match(/^Packager:\s*(.+)$/m)?.[1], MAINTAINER, "spec Packager:");
  for (const m of spec.matchAll(/^\* \w{3} \w{3} \d\d \d{4} (.+) - \S+$/gm)) {
    assertEquals(m[1], MAINTAINER, "spec %changelog entry");
  }
  assert(!/^Group:/m.test(spec), "no obsolete Group: tag in the spec");
  for (const m of (await read("packaging/debian.changelog")).matchAll(/^ -- (.+?) {2}/gm)) {
    assertEquals(m[1], MAINTAINER, "debian.changelog trailer");
  }
  const copyright = await read("packaging/copyright");
  assertEquals(copyright.match(/^Upstream-Contact: (.+)$/m)?.[1], MAINTAINER, "Upstream-Contact");
  assert(
    copyright.includes("Copyright: 2026 wsrep_sst_rsync_tunnel developers") &&
      (await read("LICENSE")).includes("Copyright (c) 2026 wsrep_sst_rsync_tunnel developers"),
    "the copyright holder is LICENSE's",
  );
  for (const dir of ["packaging", "scripts"]) {
    for await (const e of Deno.readDir(`${REPO}/${dir}`)) {
      if (!e.isFile) continue;
      const text = await read(`${dir}/${e.name}`);
      assert(!text.includes("example.invalid"), `${dir}/${e.name} says example.invalid`);
    }
  }
});

Deno.test("the example configuration sets what the README's Configuration block sets, and names only keys the program knows", async () => {
  const entries = await readAllOptions({ defaultsFile: `${REPO}/packaging/sst.cnf`, env: {} });
  const set = entries.map((e) => `[${e.group}] ${e.name}=${e.value}`);
  const readme = await read("README.md");
  const block = readme.slice(readme.indexOf("## Configuration"))
    .match(/```ini\n([\s\S]*?)```/)?.[1];
  assert(block, "the README's Configuration section starts with an ini block");
  const dir = await Deno.makeTempDir({ prefix: "readme-ini-" });
  try {
    await Deno.writeTextFile(`${dir}/readme.cnf`, block);
    const fromReadme = await readAllOptions({ defaultsFile: `${dir}/readme.cnf`, env: {} });
    assertEquals(set, fromReadme.map((e) => `[${e.group}] ${e.name}=${e.value}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const known = new Set<string>(SST_KEYS.map((k) => k.name));
  const text = await read("packaging/sst.cnf");
  const sst = text.slice(text.indexOf("[sst]"));
  const mentioned = [...sst.matchAll(/^#?\s*([a-z][a-z-]*)\s*=/gm)].map((m) => m[1]);
  assert(mentioned.length >= 10, `keys mentioned: ${mentioned.join(", ")}`);
  for (const k of mentioned) assert(known.has(k), `[sst] ${k} in packaging/sst.cnf is not a key`);
});
