/**
 * The launcher installed as `<prefix>/bin/wsrep_sst_rsync_tunnel` for the bundle layout: it
 * runs `<prefix>/lib/wsrep_sst_rsync_tunnel/wsrep_sst_rsync_tunnel.js` found relative to its
 * own path, so the same file works in `/usr`, under another `--prefix`, in a `--destdir`
 * staging root and in an RPM unpacked elsewhere.
 *
 * @module
 */
import { DENO_RUN_FLAGS } from "../src/proc/self.ts";

/** Where the bundle lives below the prefix. */
export const BUNDLE_SUBPATH = "lib/wsrep_sst_rsync_tunnel/wsrep_sst_rsync_tunnel.js";

/** The launcher's text. */
export function relativeLauncher(): string {
  return "#!/bin/sh\n" +
    "# wsrep_sst_rsync_tunnel: runs the bundle installed beside this launcher with Deno.\n" +
    `exec deno run ${DENO_RUN_FLAGS.join(" ")} "\${0%/*}/../${BUNDLE_SUBPATH}" "$@"\n`;
}
