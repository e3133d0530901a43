/**
 * Unit tests for what an existing Debian root needs before use (scripts/roots.ts `rootNeeds`):
 * a root built with an older package list gets only the packages it lacks, not a new debootstrap;
 * a root of another suite, or without a complete stamp, is built.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { rootNeeds } from "../../scripts/roots.ts";

const OLD = JSON.stringify({ suite: "bullseye", packages: ["mariadb-server", "rsync"] }) + "\n";

Deno.test("root packages: a root built with an older list gets only the packages the list gained", () => {
  assertEquals(
    rootNeeds("bullseye", ["mariadb-server", "rsync", "xfsprogs", "sysbench"], OLD, ""),
    { kind: "add", packages: ["xfsprogs", "sysbench"] },
  );
});

Deno.test("root packages: packages installed since the build (recorded beside the stamp) are not installed again", () => {
  assertEquals(
    rootNeeds(
      "bullseye",
      ["mariadb-server", "rsync", "xfsprogs", "sysbench"],
      OLD,
      "xfsprogs\nsysbench\n",
    ),
    { kind: "add", packages: [] },
  );
});

Deno.test("root packages: a root whose list matches, or holds more than is wanted, is reused as it is", () => {
  assertEquals(rootNeeds("bullseye", ["rsync"], OLD, ""), { kind: "add", packages: [] });
});

Deno.test("root packages: no stamp, a broken stamp or another suite's stamp means a fresh build", () => {
  for (const stamp of ["", "{", "[]", JSON.stringify({ suite: "trixie", packages: [] })]) {
    assertEquals(rootNeeds("bullseye", ["rsync"], stamp, ""), { kind: "build" }, stamp);
  }
});
