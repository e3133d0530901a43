/** No file of src/cli/ imports another that imports it back. */
import { assertEquals } from "../support/assert.ts";

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
