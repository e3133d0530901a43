/**
 * What `check --peer` and `check --listen` share: the option-file flags every check takes, and
 * the SST argument vector that loads the same settings an SST of that role would.
 *
 * @module
 */

/** The option-file flags every check takes. */
export interface DefaultsArgs {
  defaultsFile?: string;
  defaultsExtraFile?: string;
  defaultsGroupSuffix?: string;
}

/** Arguments for `parseSstArgs` from the option-file flags, as an SST of `role` gets them. */
export function sstArgv(role: string, o: DefaultsArgs): string[] {
  const argv = ["--role", role, "--address", "localhost", "--datadir", "/nonexistent"];
  if (o.defaultsFile) argv.push("--defaults-file", o.defaultsFile);
  if (o.defaultsExtraFile) argv.push("--defaults-extra-file", o.defaultsExtraFile);
  if (o.defaultsGroupSuffix) argv.push("--defaults-group-suffix", o.defaultsGroupSuffix);
  return argv;
}
