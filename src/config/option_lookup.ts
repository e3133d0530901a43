/**
 * Option lookups with the semantics of `parse_cnf` / `in_config` in MariaDB 10.11's
 * `wsrep_sst_common` (which pipe `my_print_defaults` through awk), over entries read once by
 * our own reader ({@link readAllOptions}).
 *
 * Rules reproduced from the script:
 * - GROUPS is "|"-separated; sets are tried in order and the first set giving a non-empty
 *   value wins ("--mysqld|sst": server groups first, then [sst]). Each set also reads its
 *   groups with the suffix appended (my_print_defaults does that).
 * - A plain "mysqld" set with a `--defaults-group-suffix` first tries "mysqld<S>" alone (which
 *   my_print_defaults extends to [mysqld<S>] and [mysqld<S><S>]).
 * - Names: a leading "--loose" becomes "-" (so "loose-" and "loose_" prefixes vanish), "_"
 *   becomes "-", comparison is case-sensitive. Within a set the **last** occurrence wins even
 *   if its value is empty (an empty last value makes the next set be tried).
 * - The value is trimmed of [ \t\n\v\f\r]; a value of blanks only still stops the search (the
 *   script tests emptiness before trimming) and then yields undefined here.
 * - A value containing a newline (an "\n" escape) is cut at it: awk sees only the first line.
 *   (The script would also treat the following output lines as options; we do not.)
 *
 * @module
 */

import {
  type DefaultsOptions,
  groupNameEquals,
  type OptionEntry,
  readAllOptions,
  requestedGroups,
} from "./option_file.ts";

/** The result of one lookup: the entry that decided it, and its trimmed value. */
type Found = { entry: OptionEntry; value: string | undefined };

/** Where a setting came from, for messages (see {@link OptionLookup.source}). */
export interface OptionSource {
  /** The group and the key as written: `[mysqld] loose-ssl-cert`. */
  setting: string;
  /** File, line, group and key as written: `/etc/mysql/my.cnf:12 [mysqld] loose-ssl-cert`. */
  where: string;
}

/** Lookups over the option files mariadbd was started with. */
export class OptionLookup {
  private constructor(
    private readonly entries: readonly OptionEntry[],
    private readonly opts: DefaultsOptions,
  ) {}

  /** Reads the option files once (every group; lookups filter) and returns a lookup. */
  static async load(opts: DefaultsOptions): Promise<OptionLookup> {
    return new OptionLookup(await readAllOptions(opts), { ...opts });
  }

  /** `parse_cnf GROUPS KEY`: the value, or undefined when unset or empty. */
  get(groups: string, key: string): string | undefined {
    return this.find(groups, key)?.value;
  }

  /** `in_config GROUPS KEY`: true if KEY appears (with or without a value) in any set. */
  has(groups: string, key: string): boolean {
    const want = normalName(key);
    return this.attempts(groups).some((set) => set.some((e) => normalName(e.name) === want));
  }

  /** Where a value came from, for error messages: "file:line [group]". */
  origin(groups: string, key: string): string | undefined {
    const found = this.find(groups, key);
    return found && `${found.entry.file}:${found.entry.line} [${found.entry.group}]`;
  }

  /**
   * Where a value came from, with the key as written there (a `loose-` prefix and `_` kept):
   * "file:line [group] name", e.g. `/etc/mysql/my.cnf:12 [mysqld] loose-ssl-cert`; and the
   * short "[group] name" for advice. Undefined when unset or empty (like {@link get}).
   */
  source(groups: string, key: string): OptionSource | undefined {
    const found = this.find(groups, key);
    if (!found?.value) return undefined;
    const e = found.entry;
    const setting = `[${e.group}] ${e.name}`;
    return { setting, where: `${e.file}:${e.line} ${setting}` };
  }

  private find(groups: string, key: string): Found | undefined {
    const want = normalName(key);
    for (const set of this.attempts(groups)) {
      const last = set.findLast((e) => normalName(e.name) === want);
      const raw = last ? firstLine(last.value ?? "") : "";
      if (last && raw !== "") return { entry: last, value: trimBlanks(raw) || undefined };
    }
    return undefined;
  }

  /** The entry lists to try, in order, for a "|"-separated GROUPS string. */
  private attempts(groups: string): OptionEntry[][] {
    const suffix = this.opts.groupSuffix;
    return groups.split("|").flatMap((group) => {
      const sets = [this.select(group)];
      if (group === "mysqld" && suffix) sets.unshift(this.select(`mysqld${suffix}`));
      return sets;
    });
  }

  /**
   * Every entry of one group argument (`sst`, `--mysqld`), suffixed groups included, in file
   * order: what my_print_defaults would print for it.
   */
  entriesOf(group: string): OptionEntry[] {
    return this.select(group);
  }

  /** Entries my_print_defaults would print for one group argument, in file order. */
  private select(group: string): OptionEntry[] {
    const names = requestedGroups(this.opts, [group]);
    return this.entries.filter((e) => names.some((g) => groupNameEquals(e.group, g)));
  }
}

/** awk: sub(/^--loose/, "-"), then gsub(/_/, "-") on the name. */
function normalName(name: string): string {
  const full = `--${name}`;
  return (full.startsWith("--loose") ? `-${full.slice(7)}` : full).replaceAll("_", "-");
}

function firstLine(value: string): string {
  const nl = value.indexOf("\n");
  return nl < 0 ? value : value.slice(0, nl);
}

/** trim_string in wsrep_sst_common: [[:space:]] at both ends. */
function trimBlanks(s: string): string {
  return s.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, "");
}
