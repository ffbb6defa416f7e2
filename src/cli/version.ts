/** Ferry's version, as `ferry --version` prints it (keep in step with package.json). */
export const FERRY_VERSION = '0.1.0';

/** What a snapshot records as the program that wrote it (restic's `program_version`). */
export const PROGRAM_VERSION = `ferry ${FERRY_VERSION}`;
