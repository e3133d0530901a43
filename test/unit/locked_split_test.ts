/**
 * `bench:locked-split`'s pure parts (scripts/bench/changed_pages.ts): the donor's changed pages
 * are the same for a seed and cover the asked share, distinct and in range; `--changed` is a
 * percentage; perf's samples are grouped by the code they were in.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { throws } from "node:assert/strict";
import { changedPages, cpuParts, parseChangedShare } from "../../scripts/bench/changed_pages.ts";

Deno.test("changed pages: the same seed gives the same pages, another seed others", () => {
  assertEquals(changedPages(16384, 0.05, 7), changedPages(16384, 0.05, 7));
  const [a, b] = [changedPages(16384, 0.05, 7), changedPages(16384, 0.05, 8)];
  assertEquals(a.length, b.length);
  assertEquals(a.filter((p, i) => p === b[i]).length < a.length / 10, true);
});

Deno.test("changed pages: round(pages × share) distinct pages in range, ascending", () => {
  for (const [pages, share] of [[16384, 0.05], [1000, 0.333], [10, 1], [10, 0], [1, 0.5]]) {
    const got = changedPages(pages, share, 1);
    assertEquals(got.length, Math.round(pages * share));
    assertEquals(new Set(got).size, got.length);
    assertEquals(got.every((p) => Number.isInteger(p) && p >= 0 && p < pages), true);
    assertEquals(got, [...got].sort((x, y) => x - y));
  }
  assertEquals(changedPages(10, 1, 3), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("changed pages: spread over the whole file, not bunched at its start", () => {
  const got = changedPages(100_000, 0.05, 1);
  const quarters = [0, 1, 2, 3].map((q) =>
    got.filter((p) => p >= q * 25_000 && p < (q + 1) * 25_000).length
  );
  for (const n of quarters) assertEquals(n > 1000 && n < 1500, true, `quarters ${quarters}`);
});

Deno.test("--changed: a percentage above 0 and below 100", () => {
  assertEquals(parseChangedShare("5"), 0.05);
  assertEquals(parseChangedShare("12.5%"), 0.125);
  for (const bad of ["0", "100", "-1", "five", ""]) {
    throws(() => parseChangedShare(bad), { message: /percentage/ });
  }
});

Deno.test("perf samples: grouped by program and code, other programs left out", () => {
  const report = [
    "# Overhead       Samples  Command  Shared Object",
    "    53.08%            69  rsync    [kernel.kallsyms]   ",
    "    23.08%            30  rsync    libxxhash.so.0.8.1  ",
    "    13.85%            18  rsync    rsync               ",
    "     4.62%             6  rsync    libcrypto.so.3      ",
    "     3.08%             4  rsync    ld-linux-x86-64.so.2",
    "     2.31%             3  rsync    libc.so.6           ",
    "     9.00%            11  socat    libcrypto.so.3      ",
    "     1.00%             2  socat    libssl.so.3         ",
    "     1.00%             5  deno     [kernel.kallsyms]   ",
  ].join("\n");
  assertEquals(Object.fromEntries(cpuParts(report)), {
    "kernel, rsync (reading, writing, pipes/sockets)": 69,
    "strong checksums (libxxhash)": 30,
    "rsync's own code (rolling checksum, block search, protocol)": 18,
    "libcrypto in rsync (MD4/MD5)": 6,
    "libc and loader, rsync (memcpy, malloc)": 7,
    "TLS (socat: libssl, libcrypto)": 13,
  });
});
