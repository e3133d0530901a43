/**
 * The donor server's `innodb_flush_log_at_trx_commit` (src/config/trx_commit.ts): mariadbd's
 * argument wins over the option files, MariaDB's default is 1; and the hint after `continue`,
 * only for a flush of 0.3 s or more with 0 or 2 and a datadir on XFS (where 1 was measured to
 * help), naming where the setting was read.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import { SLOW_FLUSH_SECONDS, slowFlushLine, trxCommitFrom } from "../../src/config/trx_commit.ts";

/** The lookup of an option file holding `lines`. */
async function optionsOf(lines: string[]): Promise<{ opts: OptionLookup; file: string }> {
  const dir = await Deno.makeTempDir({ prefix: "trx-commit-unit-" });
  const file = `${dir}/my.cnf`;
  await Deno.writeTextFile(file, [...lines, ""].join("\n"));
  const opts = await OptionLookup.load({ defaultsFile: file, env: {} });
  await Deno.remove(dir, { recursive: true });
  return { opts, file };
}

Deno.test("trx commit: read from the server groups with where; mariadbd's argument wins; default 1", async () => {
  const { opts, file } = await optionsOf([
    "[mysqld]",
    "innodb_flush_log_at_trx_commit=0",
    "[galera]",
    "innodb-flush-log-at-trx-commit = 2",
  ]);
  assertEquals(trxCommitFrom(opts, undefined), {
    value: "2",
    where: `${file}:4 [galera] innodb-flush-log-at-trx-commit`,
  });
  assertEquals(trxCommitFrom(opts, "1"), { value: "1", where: "mariadbd's argument" });
  const none = await optionsOf([
    "[mysqld]",
    "datadir=/x",
    "[client]",
    "innodb_flush_log_at_trx_commit=2",
  ]);
  assertEquals(trxCommitFrom(none.opts, undefined), { value: "1", where: "default" });
});

Deno.test("slow flush hint: only at 0.3 s or more, only with 0 or 2, only on XFS, naming the setting's place", () => {
  const two = {
    value: "2",
    where: "/etc/mysql/conf.d/galera.cnf:7 [galera] innodb_flush_log_at_trx_commit",
  };
  assertEquals(slowFlushLine(SLOW_FLUSH_SECONDS - 0.01, two, "xfs"), null);
  for (const value of ["1", "3"]) {
    assertEquals(slowFlushLine(0.8, { value, where: "default" }, "xfs"), null);
  }
  for (const fs of ["btrfs", "ext4", undefined]) {
    assertEquals(slowFlushLine(0.8, two, fs), null, `no hint on ${fs}`);
  }
  const line = slowFlushLine(0.68, two, "xfs");
  assert(line !== null);
  assert(
    line.startsWith(
      `mariadbd's flush took 0.68 s with innodb_flush_log_at_trx_commit=2 (${two.where})`,
    ),
    line,
  );
  assert(line.includes("SET GLOBAL innodb_flush_log_at_trx_commit=1"), line);
  assert(slowFlushLine(0.3, { value: "0", where: "mariadbd's argument" }, "xfs") !== null);
});
