/**
 * MariaDB server versions on both ends of an SST, and which pairs can work: the joiner starts
 * on the donor's files as they are copied, redo log included, so the two servers must agree on
 * the InnoDB redo log format, which changed in 10.8.
 *
 * The joiner tells the donor its version as a path component of its `ready` address
 * (`…/rsync_tunnel_sst/1/mariadb-10.11.19`); the donor tells the joiner its own in the
 * completion record (or in the refusal record when it refuses).
 *
 * @module
 */

/** A server version as `mariadbd --version` prints it (`Ver 10.11.19-MariaDB…`). */
export interface ServerVersion {
  major: number;
  minor: number;
  patch: number;
}

/** The first release whose InnoDB redo log the older ones cannot read, and vice versa. */
export const REDO_FORMAT_CHANGE = { major: 10, minor: 8 } as const;

/** Prefix of the version component of the joiner's `ready` path. */
export const VERSION_TOKEN_PREFIX = "mariadb-";

const NUMBER = "(\\d{1,4})";
const OUTPUT_RE = new RegExp(`\\bVer\\s+${NUMBER}\\.${NUMBER}\\.${NUMBER}-MariaDB\\b`);
const TOKEN_RE = new RegExp(`^${VERSION_TOKEN_PREFIX}${NUMBER}\\.${NUMBER}\\.${NUMBER}$`);

function fromMatch(m: RegExpMatchArray | null): ServerVersion | null {
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** Reads the version out of `mariadbd --version`'s output; null when it is not MariaDB's. */
export function parseVersionOutput(text: string): ServerVersion | null {
  return fromMatch(text.match(OUTPUT_RE));
}

/** `10.11.19`. */
export function formatVersion(v: ServerVersion): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

/** `MariaDB 10.11.19`, or `an unknown version` for null. */
export function describeVersion(v: ServerVersion | null): string {
  return v ? `MariaDB ${formatVersion(v)}` : "an unknown version";
}

/** The `ready` path component carrying the joiner's version (`mariadb-10.11.19`). */
export function versionToken(v: ServerVersion): string {
  return `${VERSION_TOKEN_PREFIX}${formatVersion(v)}`;
}

/** Reads a version path component or a completion record's `server` value; null otherwise. */
export function parseVersionToken(token: string | undefined): ServerVersion | null {
  return fromMatch((token ?? "").match(TOKEN_RE));
}

/** The value of a record's `server` line (`10.11.19` or `unknown`). */
export function recordVersion(v: ServerVersion | null): string {
  return v ? formatVersion(v) : "unknown";
}

/** Reads a record's `server` value back (see {@link recordVersion}). */
export function parseRecordVersion(value: string | undefined): ServerVersion | null {
  return parseVersionToken(`${VERSION_TOKEN_PREFIX}${value ?? ""}`);
}

/** Whether a donor's files can start a joiner, and what to say about it. */
export type Compatibility =
  /** Proceed; `skipped` says why nothing was checked (a version is unknown). */
  | { kind: "ok"; skipped?: string }
  /** Proceed, with one WARNING line. */
  | { kind: "warn"; message: string }
  /** Stop before anything is copied; `message` names both versions and the fix. */
  | { kind: "refuse"; message: string };

function beforeRedoChange(v: ServerVersion): boolean {
  return v.major < REDO_FORMAT_CHANGE.major ||
    (v.major === REDO_FORMAT_CHANGE.major && v.minor < REDO_FORMAT_CHANGE.minor);
}

/** Compares major.minor: negative when `a` is older. */
function compareMinor(a: ServerVersion, b: ServerVersion): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

/**
 * The rule: donor and joiner on different sides of 10.8 (the redo log format change) are
 * refused; a newer donor than joiner otherwise is a warning (a server may not start on files a
 * newer one wrote); the same major.minor, or an older donor on the same side of 10.8, is fine.
 * An unknown version skips the check.
 */
export function compatibility(
  donor: ServerVersion | null,
  joiner: ServerVersion | null,
): Compatibility {
  if (!donor || !joiner) {
    const missing = [!donor ? "the donor's" : null, !joiner ? "the joiner's" : null]
      .filter((s) => s !== null).join(" and ");
    return { kind: "ok", skipped: `${missing} server version is not known` };
  }
  const d = describeVersion(donor);
  const j = describeVersion(joiner);
  const change = `${REDO_FORMAT_CHANGE.major}.${REDO_FORMAT_CHANGE.minor}`;
  if (beforeRedoChange(donor) && !beforeRedoChange(joiner)) {
    return {
      kind: "refuse",
      message: `the joiner runs ${j} and cannot start on the files of a donor running ${d}: ` +
        `the InnoDB redo log format changed in ${change}, and a newer server takes over an older ` +
        `redo log only after a clean shutdown, which files copied from a running donor are not; upgrade the donor to ${change} or later ` +
        "first, or make this one SST with wsrep_sst_method=mariabackup",
    };
  }
  if (!beforeRedoChange(donor) && beforeRedoChange(joiner)) {
    return {
      kind: "refuse",
      message: `the joiner runs ${j} and cannot start on the files of a donor running ${d}: ` +
        `the InnoDB redo log format changed in ${change}, and an older server cannot read the ` +
        `newer redo log; upgrade this joiner to ${change} or later first (or let a donor ` +
        `older than ${change} serve it, with wsrep_sst_donor)`,
    };
  }
  if (compareMinor(donor, joiner) > 0) {
    return {
      kind: "warn",
      message: `the donor runs ${d}, newer than the joiner's ${j}: the joiner may start with ` +
        "InnoDB errors on files a newer server wrote; upgrade the joiner first (a rolling " +
        "upgrade goes from older donors to newer joiners)",
    };
  }
  return { kind: "ok" };
}

/** The one INFO line both ends log: both versions, and why nothing was checked if so. */
export function describePair(
  donor: ServerVersion | null,
  joiner: ServerVersion | null,
  c: Compatibility,
): string {
  const skipped = c.kind === "ok" && c.skipped ? ` (version check skipped: ${c.skipped})` : "";
  return `server versions: donor ${describeVersion(donor)}, joiner ${describeVersion(joiner)}` +
    skipped;
}
