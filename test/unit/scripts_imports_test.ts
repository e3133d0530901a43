/**
 * Scripts (benchmarks, the demo, packaging, CI helpers) never import from `test/`: what they
 * share with the tests (real clusters in network namespaces, the loopback fixture and driver, the
 * test PKI, the hardening ledger) lives in `scripts/lib/`, which the tests import by design.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { REPO_URL, sourceFiles } from "../support/source_files.ts";

/** The relative imports of `text` (static and dynamic), as written. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)].map((m) => m[1]);
}

/** `spec` of a file in `file`'s directory, resolved against the repository root. */
function resolve(file: string, spec: string): string {
  const parts = file.split("/").slice(0, -1);
  for (const p of spec.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== ".") parts.push(p);
  }
  return parts.join("/");
}

Deno.test("scripts: no import reaches into test/ (shared code lives in scripts/lib/)", async () => {
  assertEquals(resolve("scripts/bench/lab.ts", "../../test/e2e/cluster.ts"), "test/e2e/cluster.ts");
  const found: string[] = [];
  for (const [file, text] of await sourceFiles(new URL("scripts/", REPO_URL), "scripts/")) {
    for (const spec of importsOf(text)) {
      if (resolve(file, spec).startsWith("test/")) found.push(`${file}: ${spec}`);
    }
  }
  assertEquals(found, []);
});
