/**
 * Log lines tests single out.
 *
 * @module
 */

/**
 * The joiner's WARNING that Galera's group channel (which carries the per-SST secret) is not
 * encrypted: the test clusters run Galera without TLS, so "no warning" checks leave it out.
 */
export const GALERA_PLAINTEXT = /WSREP_SST: \[WARNING\] Galera's group channel is not encrypted/;
