/**
 * Expected failures of an SST and the errno-style exit codes mariadbd receives.
 *
 * Anything thrown that is not an {@link SstError} is a bug: main.ts lets it crash loudly
 * (exit 255 with a stack trace on stderr).
 *
 * @module
 */

/** Exit codes (docs/sst-protocol.md §6, §11). mariadbd prints them with strerror(). */
export const ExitCode = {
  ok: 0,
  /** ENOENT: a tool we need (socat, rsync, openssl) is missing. */
  missingTool: 2,
  /** ENOENT: one of our paths (datadir, a server directory, tmpdir) does not exist. */
  notFound: 2,
  /** Interrupted by SIGINT/SIGQUIT/SIGTERM (as the stock scripts do). */
  interrupted: 3,
  /** EIO: reading or writing a local file failed. */
  io: 5,
  /** EACCES: a certificate, key or CA file, or one of our paths, is not ours to read or write. */
  access: 13,
  /** EBUSY: the SST port is taken or the listener died before listening. */
  busy: 16,
  /** ENOTDIR: a component of one of our paths is a file. */
  notDirectory: 20,
  /** EINVAL: bad configuration, argument or certificate. */
  config: 22,
  /** ENOSPC: the joiner ran out of disk space, or a filesystem we write is full. */
  noSpace: 28,
  /** EROFS: one of our paths is on a read-only filesystem. */
  readOnly: 30,
  /** EPIPE: transfer failed, peer vanished, parent died, bad completion record. */
  transfer: 32,
  /** ELOOP: one of our paths goes through a loop of symbolic links. */
  loop: 40,
  /** EPROTO: the peer does not speak our protocol (TLS on one side only, rsync mismatch). */
  protocol: 71,
  /**
   * EOPNOTSUPP: the joiner's server cannot start on the donor's files (MariaDB versions on
   * different sides of the 10.8 redo log change), or the donor's data set has tables this
   * method cannot copy (InnoDB `DATA DIRECTORY`); refused before `flush tables`, the joiner told
   * why.
   */
  unsupportedPair: 95,
  /** EKEYREJECTED-like: the peer's certificate was refused (chain or name). */
  peerRejected: 129,
  /** ETIMEDOUT: a bounded wait expired. */
  timeout: 110,
  /** EDQUOT: the disk quota of the user we run as is exhausted. */
  quota: 122,
  /** EALREADY: another SST is still running on this datadir. */
  already: 114,
  /** ECONNREFUSED: nothing listens at the joiner's address. */
  refused: 111,
  /**
   * EHOSTUNREACH: the joiner's name does not resolve, or no route leads to it (the stock
   * scripts have no code of their own for it; mariadbd prints "No route to host").
   */
  unreachable: 113,
} as const;

/** One of the exit codes above. */
export type ExitCodeValue = typeof ExitCode[keyof typeof ExitCode];

/**
 * An expected failure: carries the exit code and a one-line, actionable message that names
 * the file, key or peer involved and what to do about it.
 */
export class SstError extends Error {
  /** The process exit status this failure maps to. */
  readonly exitCode: ExitCodeValue;
  constructor(exitCode: ExitCodeValue, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** A configuration value, argument or option file is wrong (exit 22). */
export class ConfigError extends SstError {
  constructor(message: string, options?: ErrorOptions) {
    super(ExitCode.config, message, options);
  }
}

/**
 * The donor's data set has something an SST cannot carry to the joiner whole (InnoDB tables in
 * other directories): exit 95, as for a pair of servers that cannot work together.
 */
export class UnsupportedDataError extends SstError {
  constructor(message: string, options?: ErrorOptions) {
    super(ExitCode.unsupportedPair, message, options);
  }
}

/** A program we depend on is not installed or unusable (exit 2). */
export class MissingToolError extends SstError {
  constructor(message: string, options?: ErrorOptions) {
    super(ExitCode.missingTool, message, options);
  }
}

/** The data transfer or the completion handshake failed (exit 32 unless said otherwise). */
export class TransferError extends SstError {
  constructor(
    message: string,
    exitCode: ExitCodeValue = ExitCode.transfer,
    options?: ErrorOptions,
  ) {
    super(exitCode, message, options);
  }
}

/** A bounded wait ran out (exit 110). The message names the `[sst]` key that bounds it. */
export class TimeoutError extends SstError {
  constructor(message: string, options?: ErrorOptions) {
    super(ExitCode.timeout, message, options);
  }
}

/** Another SST holds the datadir, or the port is taken (exit 114 or 16). */
export class BusyError extends SstError {
  constructor(
    message: string,
    exitCode: typeof ExitCode.already | typeof ExitCode.busy,
    options?: ErrorOptions,
  ) {
    super(exitCode, message, options);
  }
}

/** We were told to stop: a signal, or mariadbd (our `--parent`) went away. */
export class AbortedError extends SstError {}
