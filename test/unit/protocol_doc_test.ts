/**
 * The protocol document lives in the repository (`docs/sst-protocol.md`), and every section the
 * code cites exists there: a citation is `docs/sst-protocol.md §N[.M]`, possibly followed by more
 * sections (`§1.3, §1.4`). A bare "spec §" names a document outside the repository and fails.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { REPO_URL, sourceFiles } from "../support/source_files.ts";

const DOC = "docs/sst-protocol.md";
const ROOTS = ["src", "scripts", "test"];

/** The section numbers the document's headings define (`## 5.`, `### 3.2a`). */
export function sectionsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{2,4} (\d+(?:\.\d+[a-z]?)?)\.? /gm)) out.add(m[1]);
  return out;
}

/** The sections one text cites, each with its line. */
export function citationsIn(text: string): { section: string; line: number }[] {
  const out: { section: string; line: number }[] = [];
  text.split("\n").forEach((l, i) => {
    for (const m of l.matchAll(/docs\/sst-protocol\.md ((?:§[\d.]+[a-z]?(?:, )?)+)/g)) {
      for (const s of m[1].matchAll(/§(\d+(?:\.\d+[a-z]?)?)/g)) {
        out.push({ section: s[1], line: i + 1 });
      }
    }
  });
  return out;
}

Deno.test("protocol doc: the section finder reads headings and citation lists", () => {
  const doc = "# T\n## 1. How\n### 1.2 Set-up\n### 3.2a When\n";
  assertEquals([...sectionsOf(doc)].sort(), ["1", "1.2", "3.2a"]);
  const cited = citationsIn("a\n * (docs/sst-protocol.md §1.3, §1.4, §1.7): b");
  assertEquals(cited.map((c) => c.section), ["1.3", "1.4", "1.7"]);
});

Deno.test("protocol doc: every section the code cites exists in docs/sst-protocol.md", async () => {
  const sections = sectionsOf(await Deno.readTextFile(new URL(DOC, REPO_URL)));
  const missing: string[] = [];
  const outside: string[] = [];
  let count = 0;
  for (const root of ROOTS) {
    for (const [file, text] of await sourceFiles(new URL(`${root}/`, REPO_URL), `${root}/`)) {
      if (file.endsWith("protocol_doc_test.ts")) continue;
      for (const c of citationsIn(text)) {
        count++;
        if (!sections.has(c.section)) missing.push(`${file}:${c.line} cites §${c.section}`);
      }
      text.split("\n").forEach((l, i) => {
        if (/\bspec §/.test(l)) outside.push(`${file}:${i + 1}`);
      });
    }
  }
  assert(count > 10, `only ${count} citations found: is the pattern still right?`);
  assertEquals(missing, [], "cited sections missing from docs/sst-protocol.md");
  assertEquals(outside, [], 'cite "docs/sst-protocol.md §N", not a spec outside the repository');
});
