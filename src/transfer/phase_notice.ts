/**
 * The phase notice: how the joiner learns what the donor is sending, so that its own progress
 * lines can name the phase and give an ETA. Before each data pass the donor sends a tiny file,
 * {@link PHASE_FILE}, into the joiner's completion module (beside where the completion record
 * will land; written by rename, so never read half-written), while the pass starts:
 *
 * ```
 * wsrep_sst_rsync_tunnel phase 1
 * phase locked pass
 * total 68969324
 * delta 0
 * ```
 *
 * `total` is the bytes of the files the pass sends (whole files) or compares (delta: then only
 * the blocks that differ cross the wire, and the joiner gives no ETA). Nothing in it is trusted
 * for the data: a notice that does not parse is ignored (the joiner then reports "of an unknown
 * total"), as is its absence (a donor of an older version).
 *
 * @module
 */

/** The notice's file name in the completion module. */
export const PHASE_FILE = "sst_phase";

const HEADER = "wsrep_sst_rsync_tunnel phase 1";

/** The data passes' names, as both sides log them. */
export const PHASES = ["hot pre-copy", "locked pass", "locked delta pass", "clone pass"] as const;

/** A data pass's name. */
export type Phase = typeof PHASES[number];

/** What the donor announces before a data pass. */
export interface PhaseNotice {
  phase: Phase;
  /** Bytes of the files the pass sends or (delta) compares. */
  total: number;
  /** Delta transfer: only differing blocks are sent. */
  delta: boolean;
}

/** The notice's text. */
export function renderPhaseNotice(n: PhaseNotice): string {
  return `${HEADER}\nphase ${n.phase}\ntotal ${n.total}\ndelta ${n.delta ? 1 : 0}\n`;
}

/** The notice in `text`, or null when it is not one this version understands. */
export function parsePhaseNotice(text: string): PhaseNotice | null {
  const lines = text.split("\n");
  if (lines[0] !== HEADER || text.length > 200) return null;
  const phase = PHASES.find((p) => lines[1] === `phase ${p}`);
  const total = /^total (\d{1,15})$/.exec(lines[2] ?? "");
  const delta = /^delta ([01])$/.exec(lines[3] ?? "");
  if (!phase || !total || !delta) return null;
  return { phase, total: Number(total[1]), delta: delta[1] === "1" };
}
