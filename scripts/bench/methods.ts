/**
 * The SST methods the benchmarks compare, and the option-file lines each needs on both nodes.
 *
 * - `plain` — MariaDB's stock `wsrep_sst_rsync`, plaintext;
 * - `stunnel` — the same script with `[sst] tca/tcert/tkey` and `ssl-mode=VERIFY_CA` (it then
 *   runs stunnel on both ends; VERIFY_IDENTITY would pin leaf certificates);
 * - `wan` — stock `wsrep_sst_rsync_wan`, plaintext (rsync's delta transfer instead of whole
 *   files);
 * - `mariabackup` — stock `wsrep_sst_mariabackup` streaming through socat with TLS: `[sst]
 *   encrypt=3` with `tca/tcert/tkey` and `ssl-mode=VERIFY_CA` (the script then runs `socat …
 *   openssl-listen`/`openssl-connect` with cert, key and cafile, verifying the chain only);
 * - `tunnel` — this program (mutual TLS through socat, per-SST secret), default `[sst]`;
 * - `tunnel-precopy-off`, `tunnel-precopy-on` — this program with `[sst] precopy=off|on`;
 * - `tunnel-clone-off` — this program with `[sst] clone=off` (no clones under the lock: the
 *   locked pass, as on a file system that cannot clone);
 * - variants of `rsync_tunnel` with extra `[sst]` keys (`--variant label:key=value;…`).
 *
 * @module
 */
import type { Node, NodeExtra } from "../lib/cluster.ts";
import type { Ca, Leaf } from "../lib/pki.ts";
import { sstLines } from "./options.ts";
import { which } from "../../src/proc/process.ts";

/** One SST method as the benchmark configures it. */
export interface Method {
  /** Short name on the command line (`--methods`). */
  key: string;
  /** Name in the tables. */
  label: string;
  /** `wsrep_sst_method` of both nodes. */
  sstMethod: string;
  /** `[sst]` lines of both nodes (the TLS files are added when `tls`). */
  sst: string[];
  /** Whether both nodes get `[sst] tca/tcert/tkey`. */
  tls: boolean;
  /** Programs the stock script runs that the bench's hosts may lack, with their package. */
  needs?: readonly { program: string; pkg: string }[];
}

/** The certificates of the benchmark: one CA, one leaf per node (CN and SAN = node name). */
export interface Pki {
  ca: Ca;
  leaves: Map<string, Leaf>;
}

const tunnel = (key: string, label: string, sst: string[]): Method => ({
  key,
  label,
  sstMethod: "rsync_tunnel",
  sst,
  tls: true,
});

/** Every method known by key. */
export const METHODS: Readonly<Record<string, Method>> = {
  plain: { key: "plain", label: "rsync (plaintext)", sstMethod: "rsync", sst: [], tls: false },
  stunnel: {
    key: "stunnel",
    label: "rsync+stunnel (TLS)",
    sstMethod: "rsync",
    sst: ["ssl-mode=VERIFY_CA"],
    tls: true,
    needs: [{ program: "stunnel", pkg: "stunnel4" }],
  },
  wan: { key: "wan", label: "rsync_wan (plaintext)", sstMethod: "rsync_wan", sst: [], tls: false },
  mariabackup: {
    key: "mariabackup",
    label: "mariabackup+TLS",
    sstMethod: "mariabackup",
    sst: ["encrypt=3", "ssl-mode=VERIFY_CA"],
    tls: true,
    needs: [{ program: "mariadb-backup", pkg: "mariadb-backup" }],
  },
  tunnel: tunnel("tunnel", "rsync_tunnel (TLS)", []),
  "tunnel-precopy-off": tunnel("tunnel-precopy-off", "tunnel precopy=off", ["precopy=off"]),
  "tunnel-precopy-on": tunnel("tunnel-precopy-on", "tunnel precopy=on", ["precopy=on"]),
  "tunnel-clone-off": tunnel("tunnel-clone-off", "tunnel clone=off", ["clone=off"]),
};

/**
 * The methods named by `keys`, then one `rsync_tunnel` method per `--variant` spec. Throws
 * before any cluster starts when a method's stock script would not find a program it runs (its
 * SST would fail on the joiner mid-bench).
 */
export function pickMethods(
  keys: string[],
  variants: string[],
  installed: (program: string) => boolean = onPath,
): Method[] {
  const out = keys.map((k) => {
    const m = METHODS[k];
    if (!m) throw new Error(`unknown method '${k}' (${Object.keys(METHODS).join(", ")})`);
    for (const { program, pkg } of m.needs ?? []) {
      if (!installed(program)) {
        throw new Error(
          `method '${k}' runs ${program}, which is not installed: apt-get install ${pkg}`,
        );
      }
    }
    return m;
  });
  return [...out, ...variants.map(variantMethod)];
}

/** Whether `program` is an executable in `PATH` or the system's bin and sbin directories. */
function onPath(program: string): boolean {
  return which(program, `${Deno.env.get("PATH") ?? ""}:/usr/sbin:/usr/bin:/sbin:/bin`) !== null;
}

/** `label:key=value[;key=value]` → an `rsync_tunnel` method with these `[sst]` lines. */
export function variantMethod(spec: string): Method {
  const colon = spec.indexOf(":");
  if (colon < 1) throw new Error(`--variant '${spec}': write label:key=value[;key=value]`);
  const label = spec.slice(0, colon);
  return tunnel(`tunnel-${label}`, `rsync_tunnel ${label}`, sstLines(spec.slice(colon + 1)));
}

/** `m` with other `[sst]` lines (and a label saying so). */
export function withSst(m: Method, sst: string[]): Method {
  const label = sst.length > 0 ? `${m.label.replace(/ \(TLS\)$/, "")} ${sst.join(";")}` : m.label;
  return { ...m, sst, label };
}

/** Option-file content of `node` for method `m` (plus `providerOptions` for Galera). */
export function nodeExtra(
  pki: Pki,
  node: Node,
  m: Method,
  providerOptions: string[] = [],
): NodeExtra {
  const leaf = pki.leaves.get(node.name)!;
  const tls = m.tls ? [`tca=${pki.ca.cert}`, `tcert=${leaf.cert}`, `tkey=${leaf.key}`] : [];
  return {
    mysqld: [`wsrep_sst_method=${m.sstMethod}`],
    providerOptions,
    groups: { sst: [...tls, ...m.sst] },
  };
}
