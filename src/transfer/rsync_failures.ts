/**
 * What the lines rsync prints on the donor mean: one ordered table, most specific first, each
 * rule with real rsync output as its fixture in test/unit/rsync_failures_test.ts (rsync 3.5.0
 * and 3.2.3, captured against a daemon and through the tunnel).
 *
 * The donor's rsync is the sender; lines about the joiner's files come back from its daemon
 * (the receiver and generator) and name the path inside a module: `"shop/t.ibd" (in m)`.
 *
 * What a hot pre-copy may go on from ({@link settledByLockedPass}): a file that got shorter
 * while it was read (a table truncated in place: MyISAM/Aria `TRUNCATE`, `DELETE` without
 * `WHERE`, a CSV log table, `innodb_undo_log_truncate`), or that vanished between the plan and
 * its read (a table dropped or rebuilt). The locked pass settles both: it lists the data set
 * again under the lock and compares every file the pre-copy cannot vouch for, and the pre-copy
 * record never vouches for a file these lines name, nor for any file of an rsync that failed
 * otherwise (precopy_record.ts). Every
 * other line (the joiner could not write, the daemon refused us, the connection broke, the
 * donor could not read a file for another reason, a line we do not know) stops the SST before
 * the lock: the locked pass would meet it again.
 *
 * @module
 */

/** What one line of rsync's output says. */
export type RsyncLineKind =
  /** The joiner's disk is full. */
  | "joiner-no-space"
  /** The joiner could not create, open or write a file or directory. */
  | "joiner-write"
  /** The joiner's daemon refused the session (authentication, module). */
  | "refused"
  /** The other end does not speak rsync's daemon protocol. */
  | "protocol"
  /** The connection could not be made or broke. */
  | "connection"
  /** Donor: a file got shorter while rsync read it. */
  | "shrunk"
  /** Donor: a listed file or directory was gone when rsync came to read it. */
  | "vanished"
  /** rsync's closing line for files not (all) transferred (exit 23) or vanished (exit 24). */
  | "partial"
  /** Any other closing `rsync error: … (code N)` line. */
  | "error-summary"
  /** Anything else. */
  | "other";

/** One line of rsync's output, recognised. */
export interface RsyncLine {
  kind: RsyncLineKind;
  /** The line as rsync printed it (trimmed). */
  text: string;
}

interface Rule {
  re: RegExp;
  kind: RsyncLineKind;
}

/** The donor's own role tag, printed by rsync 3.2 and later (`rsync: [sender] …`). */
const SENDER = String.raw`rsync: (?:\[sender\] )?`;

/** Ordered: the first rule that matches a line decides what it means. */
const RULES: readonly Rule[] = [
  { re: /No space left on device/i, kind: "joiner-no-space" },
  // The receiving side's socket to the donor, not its files: the donor went away (killed, its
  // host rebooted) while this side wrote or read.
  {
    re:
      /^rsync: \[(?:receiver|generator)\] (?:write|read) error: (?:Broken pipe|Connection reset by peer)/,
    kind: "connection",
  },
  // The receiving side's errors, and paths inside a module: the joiner's files.
  { re: /^rsync: \[(?:receiver|generator)\] /, kind: "joiner-write" },
  { re: /^rsync: .* \(in [^)]+\)(?: failed)?: /, kind: "joiner-write" },
  { re: /^\*\*\* Skipping any contents from this failed directory \*\*\*$/, kind: "joiner-write" },
  { re: /^@ERROR: /, kind: "refused" },
  {
    re: /rather than greeting|did not see server greeting|protocol version mismatch/,
    kind: "protocol",
  },
  {
    re:
      /connection unexpectedly closed|Broken pipe|Connection reset by peer|failed to connect to|error in socket IO|timeout in data send\/receive/i,
    kind: "connection",
  },
  {
    re: new RegExp(`^${SENDER}read errors mapping ".+": No data available \\(61\\)$`),
    kind: "shrunk",
  },
  { re: /^file has vanished: ".+"$/, kind: "vanished" },
  // --copy-links: the file a link points to is gone (a DATA DIRECTORY table dropped); a link
  // still dangling under the lock is refused before the locked pass copies anything.
  { re: /^symlink has no referent: ".+"$/, kind: "vanished" },
  {
    re: new RegExp(`^${SENDER}link_stat ".+" failed: No such file or directory \\(2\\)$`),
    kind: "vanished",
  },
  {
    re:
      /^rsync (?:error|warning): some files(?:\/attrs were not transferred| vanished before they could be transferred) .*\(code 2[34]\)/,
    kind: "partial",
  },
  { re: /^rsync error: .*\(code \d+\)/, kind: "error-summary" },
];

/** What `line` (one line of rsync's stdout or stderr) says. */
export function classifyRsyncLine(line: string): RsyncLine {
  const text = line.trim();
  const rule = RULES.find((r) => r.re.test(text));
  return { kind: rule?.kind ?? "other", text };
}

/** Whether any line of `output` says `kind`. */
export function rsyncSays(output: string, kind: RsyncLineKind): boolean {
  return output.split("\n").some((l) => classifyRsyncLine(l).kind === kind);
}

/**
 * The files a hot-pass rsync that exited `code` failed to send whole because they shrank or
 * vanished meanwhile — its lines saying so — when that is all that went wrong (exit 23 or 24,
 * every line one of those or rsync's closing line for them, at least one such file); null when
 * anything else went wrong, which stops the SST.
 */
export function settledByLockedPass(code: number, lines: readonly string[]): RsyncLine[] | null {
  if (code !== 23 && code !== 24) return null;
  const seen = lines.map(classifyRsyncLine);
  if (!seen.every((l) => l.kind === "shrunk" || l.kind === "vanished" || l.kind === "partial")) {
    return null;
  }
  const files = seen.filter((l) => l.kind !== "partial");
  return files.length > 0 ? files : null;
}
