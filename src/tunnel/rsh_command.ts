/**
 * The donor's end of the tunnel: what rsync runs as its remote shell (`--rsh`) for every
 * connection to the joiner's daemon. It is socat's TLS client on rsync's stdio, started by
 * `/bin/sh` through a script that is a constant of ours: no value reaches the shell's parser.
 * socat's path, every socat argument and the log directory travel in environment variables,
 * which the script expands inside double quotes (no word splitting, globbing or substitution
 * of their contents). rsync appends `<host> rsync --server --daemon .`, which the script never
 * reads. socat writes its diagnostics to `<logDir>/socat-<pid>.log`, mode 0600 (the shell
 * `exec`s socat, so `$$` is socat's PID); the runner reads them when a transfer fails.
 *
 * This replaces a Deno helper process per connection, which cost ~0.15 s of start-up and
 * ~45 MiB each (README, performance levers).
 *
 * @module
 */

/** The socat client for every rsync connection. */
export interface TunnelClient {
  /** socat's absolute path. */
  socat: string;
  /** socat's options and addresses, each one argv element. */
  args: readonly string[];
  /** The 0700 directory where each connection's socat log goes. */
  logDir: string;
}

/** The `--rsh` value and the environment rsync passes on to it. */
export interface RshSetup {
  rsh: string;
  env: Record<string, string>;
}

/** Prefix of the environment variables the script reads. */
export const RSH_ENV_PREFIX = "WSREP_SST_TUNNEL_";

/** The name of a socat connection log in the log directory. */
export const SOCAT_LOG_RE = /^socat-\d+\.log$/;

/** Builds rsync's `--rsh` value (constant text only) and the values it expands. */
export function rshSetup(client: TunnelClient): RshSetup {
  const env: Record<string, string> = {
    [`${RSH_ENV_PREFIX}SOCAT`]: client.socat,
    [`${RSH_ENV_PREFIX}LOGS`]: client.logDir,
  };
  const words = [
    `"$${RSH_ENV_PREFIX}SOCAT"`,
    "-lf",
    `"$${RSH_ENV_PREFIX}LOGS/socat-$$.log"`,
  ];
  client.args.forEach((arg, i) => {
    env[`${RSH_ENV_PREFIX}ARG${i}`] = arg;
    words.push(`"$${RSH_ENV_PREFIX}ARG${i}"`);
  });
  // rsync splits --rsh at spaces and keeps single-quoted text whole; the script holds none.
  return { rsh: `/bin/sh -c 'umask 077 && exec ${words.join(" ")}'`, env };
}
