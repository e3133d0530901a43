/**
 * `check --peer` and `check --listen` share their option-file flags through
 * src/cli/check_options.ts, and no file of src/cli/ imports another that imports it back.
 */
import { assertEquals } from "../support/assert.ts";
import { sstArgv } from "../../src/cli/check_options.ts";
import { parseSstArgs } from "../../src/core/args.ts";

Deno.test("sstArgv passes the option-file flags as an SST of that role gets them", () => {
  const argv = sstArgv("donor", {
    defaultsFile: "/etc/my.cnf",
    defaultsExtraFile: "/etc/extra.cnf",
    defaultsGroupSuffix: ".node1",
  });
  assertEquals(argv, [
    "--role",
    "donor",
    "--address",
    "localhost",
    "--datadir",
    "/nonexistent",
    "--defaults-file",
    "/etc/my.cnf",
    "--defaults-extra-file",
    "/etc/extra.cnf",
    "--defaults-group-suffix",
    ".node1",
  ], "argv");
  assertEquals(parseSstArgs(sstArgv("joiner", {})).role, "joiner", "parses as an SST's");
});

Deno.test("no two files of src/cli/ import each other (directly or through others)", () => {
  const dir = new URL("../../src/cli/", import.meta.url);
  const graph = new Map<string, string[]>();
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.endsWith(".ts")) continue;
    const text = Deno.readTextFileSync(new URL(e.name, dir));
    const deps = [...text.matchAll(/from\s+["']\.\/([^"']+\.ts)["']/g)].map((m) => m[1]);
    graph.set(e.name, deps);
  }
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    for (const d of graph.get(file) ?? []) {
      if (path.includes(d)) cycles.push([...path.slice(path.indexOf(d)), d].join(" -> "));
      else visit(d, [...path, d]);
    }
  };
  for (const f of graph.keys()) visit(f, [f]);
  assertEquals([...new Set(cycles)], [], "import cycles in src/cli/");
});
