/**
 * Command-line options of the benchmark scenarios (`scripts/bench/*.ts`): a small parser that
 * knows each scenario's options, refuses the others and gives the last value of a repeated one.
 *
 * @module
 */

/** The options of one scenario run, as parsed from its command line. */
export class BenchArgs {
  /**
   * Refuses any `--option` not in `known` (exit 2, naming `usage`, the scenario's file).
   * `argv` is usually `Deno.args`.
   */
  constructor(readonly argv: string[], known: string[], usage: string) {
    for (const a of argv) {
      if (a.startsWith("--") && !known.includes(a.split("=")[0])) {
        console.error(`unknown option ${a}; see the top of ${usage}`);
        Deno.exit(2);
      }
    }
  }

  /** Every value of `name` (`--name value` or `--name=value`), in order. */
  values(name: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.argv.length; i++) {
      if (this.argv[i] === name && i + 1 < this.argv.length) out.push(this.argv[++i]);
      else if (this.argv[i].startsWith(`${name}=`)) out.push(this.argv[i].slice(name.length + 1));
    }
    return out;
  }

  /** The last value of `name`, or `def`. */
  last(name: string, def: string): string {
    return this.values(name).at(-1) ?? def;
  }

  /** Whether the flag `name` is given. */
  flag(name: string): boolean {
    return this.argv.includes(name);
  }

  /** A comma-separated list (`--name a,b`), or `def`. */
  list(name: string, def: string): string[] {
    return this.last(name, def).split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  }

  /** A positive integer option, or `def`. */
  count(name: string, def: number): number {
    const n = Number(this.last(name, String(def)));
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer`);
    return n;
  }

  /** `--sizes 1G,4G` (MiB without suffix), ascending. */
  sizes(def: string): number[] {
    return this.list("--sizes", def).map(parseSize).sort((a, b) => a - b);
  }

  /** The value of `name`, which must be one of `allowed` (the first is the default). */
  choice<T extends string>(name: string, allowed: readonly T[]): T {
    const v = this.last(name, allowed[0]);
    if (!allowed.includes(v as T)) throw new Error(`${name} is one of ${allowed.join(", ")}`);
    return v as T;
  }

  /** `--link fast|slow`. */
  link(def: "fast" | "slow"): "fast" | "slow" {
    const link = this.last("--link", def);
    if (link !== "fast" && link !== "slow") throw new Error("--link is fast or slow");
    return link;
  }
}

/** One data set of `bench:stall --data`: MiB of cold tables and of hot (sysbench) tables. */
export interface DataSet {
  coldMiB: number;
  hotMiB: number;
}

/** `--data 1G:1G,0:4G` (cold:hot, each a size) → the data sets, in the order given. */
export function parseDataSets(spec: string): DataSet[] {
  return spec.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    const [cold, hot, ...rest] = s.split(":");
    if (hot === undefined || rest.length > 0) {
      throw new Error(`--data '${s}': write cold:hot, e.g. 1G:1G or 0:4G`);
    }
    const set = { coldMiB: parseSize(cold), hotMiB: parseSize(hot) };
    if (set.hotMiB < 16) {
      throw new Error(`--data '${s}': sysbench needs at least 16M of hot tables`);
    }
    return set;
  });
}

/** MiB of a size such as `256M`, `1G`, `1.5GiB` or `4096` (MiB). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([MmGg]?)(?:i?B)?$/.exec(s.trim());
  if (!m) throw new Error(`bad size '${s}' (e.g. 256M, 1G, 4096)`);
  return Math.round(Number(m[1]) * (/g/i.test(m[2]) ? 1024 : 1));
}

/** `key=value;key=value` → the `key=value` lines (empty items dropped). */
export function sstLines(spec: string): string[] {
  return spec.split(";").map((s) => s.trim()).filter((s) => s.includes("="));
}
