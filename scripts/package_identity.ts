/**
 * Who the packages say made them, in one place: the .deb's `Maintainer:` and changelog trailer,
 * the RPM's `Packager:` and `%changelog` entries, and the copyright file's `Upstream-Contact:`
 * all carry {@link MAINTAINER} (test/packaging/identity_test.ts compares them).
 *
 * The name is the copyright holder of LICENSE; the address is the one the project's commits
 * are made with (`git log`). The project has no public homepage yet, so the packages carry no
 * `Homepage:` / `URL:` rather than an invented one; when it gets one, set {@link HOMEPAGE} and
 * add `URL:` to the spec.
 *
 * @module
 */

/** The project's name for itself (LICENSE's copyright holder). */
export const PROJECT = "wsrep_sst_rsync_tunnel developers";
/** The address of the project's commits. */
export const ADDRESS = "maintainers@users.noreply.r-seed-9614de1b.example";
/** `Name <address>`, as Debian's `Maintainer:` and RPM's `Packager:` want it. */
export const MAINTAINER = `${PROJECT} <${ADDRESS}>`;
/** The project's public homepage; none yet (see the module comment). */
export const HOMEPAGE: string | null = null;
