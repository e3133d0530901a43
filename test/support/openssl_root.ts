/**
 * Another release's `openssl` command, run from a Debian root file system built by
 * `scripts/roots.ts` (e.g. bullseye's OpenSSL 1.1.1w): a process adapter that starts
 * `chroot <root> openssl …` for every `openssl` the code under test runs, with paths under the
 * root rewritten to their paths inside it. Everything else runs on the host.
 *
 * @module
 */
import {
  type Child,
  denoAdapter,
  type ProcessAdapter,
  run,
  type SpawnSpec,
} from "../../src/proc/process.ts";

/** Where `scripts/roots.ts` (or the lead's builds) keep the roots, in order of preference. */
export function rootDirs(): string[] {
  const env = Deno.env.get("SST_ROOTS_DIR");
  return [
    ...(env ? [env] : []),
    "/var/cache/wsrep_sst_rsync_tunnel",
    "/var/cache/sst-roots",
  ];
}

/** The root of `suite` that has an `openssl` binary, or null. */
export function findRoot(suite: string): string | null {
  for (const dir of rootDirs()) {
    try {
      if (Deno.statSync(`${dir}/${suite}/usr/bin/openssl`).isFile) return `${dir}/${suite}`;
    } catch { /* not there */ }
  }
  return null;
}

/** A root's `openssl`, and scratch directories inside the root for test files. */
export interface OpensslRoot {
  root: string;
  /** Starts `openssl` inside the root, anything else on the host. */
  adapter: ProcessAdapter;
  /** The same, with `env` added to openssl's environment (host paths rewritten). */
  adapterWith(env: Record<string, string>): ProcessAdapter;
  /** `openssl version` inside the root. */
  version: string;
  /** A new empty directory under `<root>/tmp` (host path); removed by {@link cleanup}. */
  scratch(): Promise<string>;
  cleanup(): Promise<void>;
}

/**
 * An adapter that runs `openssl` in `root` (needs root privileges for `chroot`), with host
 * paths under the root (in arguments and in `env`) rewritten to their paths inside it.
 */
export function rootAdapter(root: string, env: Record<string, string> = {}): ProcessAdapter {
  const inside = (a: string) => a.startsWith(`${root}/`) ? a.slice(root.length) : a;
  const extra = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, inside(v)]));
  return {
    spawn(spec: SpawnSpec): Child {
      if (spec.cmd !== "openssl") return denoAdapter.spawn(spec);
      return denoAdapter.spawn({
        ...spec,
        cmd: "chroot",
        args: [root, "openssl", ...spec.args.map(inside)],
        env: { ...spec.env, ...extra },
        cwd: undefined,
      });
    },
  };
}

/** Opens the `openssl` of `root` (checks that it runs). */
export async function opensslInRoot(root: string): Promise<OpensslRoot> {
  const adapter = rootAdapter(root);
  const r = await run(adapter, { cmd: "openssl", args: ["version"] }, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`chroot ${root} openssl version failed: ${r.stderr}`);
  const made: string[] = [];
  return {
    root,
    adapter,
    adapterWith: (env) => rootAdapter(root, env),
    version: r.stdout.trim(),
    async scratch() {
      const dir = await Deno.makeTempDir({ dir: `${root}/tmp`, prefix: "sst-openssl-test." });
      made.push(dir);
      return dir;
    },
    async cleanup() {
      for (const d of made) await Deno.remove(d, { recursive: true }).catch(() => {});
    },
  };
}
