/** The program version (also in README and the RPM spec). */
export const VERSION = "0.1.0";
