/** Keys in the wrong place, as `check` reports them (src/config/key_placement.ts). */
import { assertEquals } from "../support/assert.ts";
import { editDistance, misplacedKeys, nearestKey } from "../../src/config/key_placement.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";

async function lookup(text: string, groupSuffix?: string): Promise<OptionLookup> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/my.cnf`, text);
  try {
    return await OptionLookup.load({ defaultsFile: `${dir}/my.cnf`, groupSuffix, env: {} });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a misspelled key's nearest known key is suggested; a foreign key gets none", () => {
  assertEquals(editDistance("tcrt", "tcert"), 1);
  assertEquals(nearestKey("tcrt"), "tcert");
  assertEquals(nearestKey("compres"), "compress");
  assertEquals(nearestKey("tunnel-idle-timout"), "tunnel-idle-timeout");
  assertEquals(nearestKey("TCERT"), "tcert", "keys are case-sensitive: TCERT is not tcert");
  assertEquals(nearestKey("inno-backup-opts"), undefined);
});

Deno.test("unknown [sst] keys (suffixed group too) and our keys in server groups are found", async () => {
  const opts = await lookup(
    [
      "[mysqld]",
      "ssl-mode=VERIFY_CA",
      "loose_ssl_mode=VERIFY_CA",
      "ssl_ca=/ca.pem",
      "tmpdir=/tmp",
      "[galera]",
      "sockopt=cipher=ALL",
      "[sst]",
      "tcert=/a.crt",
      "tunnel_idle_timeout=5",
      "tkye=/a.key",
      "[sst.node1]",
      "bwlimt=10",
    ].join("\n") + "\n",
    ".node1",
  );
  const found = misplacedKeys(opts).map((m) =>
    m.kind === "unknown"
      ? `unknown [${m.entry.group}] ${m.entry.name} -> ${m.nearest}`
      : `server [${m.entry.group}] ${m.key}`
  );
  assertEquals(found, [
    "server [mysqld] ssl-mode",
    "server [galera] sockopt",
    "unknown [sst] tkye -> tkey",
    "unknown [sst.node1] bwlimt -> bwlimit",
  ]);
});
