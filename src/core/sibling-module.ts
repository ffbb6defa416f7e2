/**
 * The module `name` (without extension) next to the module at `callerUrl`, in the caller's own form: `name.js`
 * for compiled code (dist/, and the test build of scripts/run-tests.mjs), `name.ts` when the caller runs from
 * its TypeScript source through tsx. `tsx` says whether a new process or worker must load tsx to run it (a
 * worker does not inherit its parent's loader).
 */
export function siblingModule(callerUrl: string, name: string): { readonly url: URL; readonly tsx: boolean } {
  const tsx = callerUrl.endsWith('.ts');
  return { url: new URL(`./${name}${tsx ? '.ts' : '.js'}`, callerUrl), tsx };
}
