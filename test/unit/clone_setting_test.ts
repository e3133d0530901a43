/**
 * `[sst] clone`: `auto` by default, the usual spellings of on and off, and a ConfigError naming
 * key, value and origin for anything else (src/config/clone.ts through auto_switch.ts).
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import { type Clone, cloneFrom } from "../../src/config/clone.ts";
import { ConfigError } from "../../src/core/errors.ts";

/** `[sst] clone` as read from an option file whose `[sst]` group holds `lines`. */
async function cloneOf(lines: string[]): Promise<Clone> {
  const dir = await Deno.makeTempDir({ prefix: "clone-unit-" });
  try {
    const file = `${dir}/my.cnf`;
    await Deno.writeTextFile(file, ["[mysqld]", "datadir=/x", "[sst]", ...lines, ""].join("\n"));
    return cloneFrom(await OptionLookup.load({ defaultsFile: file, env: {} }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("[sst] clone: auto by default; on/off and their spellings, case-insensitive", async () => {
  assertEquals(await cloneOf([]), "auto");
  assertEquals(await cloneOf(["clone = AUTO"]), "auto");
  for (const v of ["on", "ON", "1", "yes", "true"]) {
    assertEquals(await cloneOf([`clone=${v}`]), "on");
  }
  for (const v of ["off", "Off", "0", "no", "false"]) {
    assertEquals(await cloneOf([`clone=${v}`]), "off");
  }
});

Deno.test("[sst] clone: any other value is a ConfigError naming the key, the value and where it was set", async () => {
  const e = await assertRejects(() => cloneOf(["clone=reflink"]), ConfigError);
  assert(e.message.includes("[sst] clone=reflink") && e.message.includes("my.cnf:4"), e.message);
});
