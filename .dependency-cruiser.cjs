// Ferry's layer rules (the team's STYLE.md, "Layout"), checked by `npm run lint` (depcruise src --config …).
//
//   core ← storage ← engine ← seed ← service,   seed ← datacenter,   core ← storage ← engine ← agent,   cli on top of all.
//   The portal (src/service/portal) is part of the service, not a client of it: its pages call the same
//   resource functions as the API's routes (service/resources, jobs, audit), and the API's one access hook
//   (api/route-access.ts, which reads its session cookie) guards them. It sits beside service/api: what it
//   builds on (resources, jobs, auth, audit, db, worker) never imports it.
//   os (the durable file write) sits beside core: it imports only core, and every layer but the portal may use it.
//   contract (the service's HTTP wire contract as zod schemas: import jobs, ingest) sits beside core too: it
//   imports only core, and seed, datacenter, service, cli and the portal use it, so each shape is written once.
//
// Tests (*.test.ts) and testing/ folders may import anything; production code may not import them.
// Type-only imports count: a type from a higher layer is still a dependency on it.

/** Files the layer rules do not apply to. */
const TESTS = '(\\.test\\.ts$|/testing/)';
/** One folder per concrete storage back end; only the composition roots pick one. */
const BACKENDS = '^src/storage/(fs|azure|s3|http)/';

/** A rule: code under `from` may import from src/ only the folders in `allowed`. */
function layer(name, from, allowed, comment) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: from, pathNot: TESTS },
    to: { path: `^src/(?!(${allowed.join('|')})/)` },
  };
}

/** A rule: only code under `home` (and tests) may import the npm packages matching `packages`. */
function sdkHome(name, packages, home) {
  return {
    name,
    comment: `${packages} is used only inside ${home}: describe it there with a narrow local interface`,
    severity: 'error',
    from: { path: '^src/', pathNot: `${TESTS}|^${home}` },
    // A resolved package lives under node_modules/; an uninstalled one keeps its bare name.
    to: { path: `(^|/)node_modules/(${packages})|^(${packages})` },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules must not depend on each other in a cycle; move the shared part down a layer',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    layer('core-imports-no-layer', '^src/core/', ['core'], 'src/core imports nothing from the other layers'),
    layer('os-only-core', '^src/os/', ['core', 'os'], 'src/os (the durable file write) imports only core'),
    layer('contract-only-core', '^src/contract/', ['core', 'contract'], 'src/contract (the wire contract) imports only core: every layer that talks to the service can use it'),
    layer('storage-only-core', '^src/storage/', ['core', 'os', 'storage'], 'src/storage imports only core and os'),
    layer('engine-only-core-storage', '^src/engine/', ['core', 'os', 'storage', 'engine'], 'src/engine imports only core, os and storage'),
    layer('seed-only-lower-layers', '^src/seed/', ['core', 'os', 'contract', 'storage', 'engine', 'seed'], 'src/seed imports only core, os, contract, storage and engine'),
    layer('service-only-lower-layers', '^src/service/', ['core', 'os', 'contract', 'storage', 'engine', 'seed', 'datacenter', 'service'], 'src/service imports only core, os, contract, storage, engine, seed and datacenter (it runs the ingest on its own host)'),
    layer('datacenter-only-lower-layers', '^src/datacenter/', ['core', 'os', 'contract', 'storage', 'engine', 'seed', 'datacenter'], 'src/datacenter (ingest) imports only core, contract, storage, engine and seed; the CLI wires it to the service'),
    {
      name: 'datacenter-uses-storage-interface-only',
      comment: 'ingest reaches the import through the Storage interface; the CLI picks the back end',
      severity: 'error',
      from: { path: '^src/datacenter/', pathNot: TESTS },
      to: { path: '^src/storage/', pathNot: '^src/storage/storage\\.ts$' },
    },
    layer('agent-only-lower-layers', '^src/agent/', ['core', 'os', 'storage', 'engine', 'agent'], 'src/agent (schedule, loop) imports only core, storage and engine; the CLI wires it to the service'),
    {
      name: 'portal-on-top-of-resources',
      comment: 'service/portal renders what the resource functions return: the layers it builds on do not import it',
      severity: 'error',
      from: { path: '^src/service/(resources|jobs|auth|audit|db|worker|secrets|vault-objects)/', pathNot: TESTS },
      to: { path: '^src/service/portal/' },
    },
    {
      name: 'nothing-imports-cli',
      comment: 'cli is the top layer: nothing below imports it',
      severity: 'error',
      from: { path: '^src/', pathNot: `${TESTS}|^src/cli/` },
      to: { path: '^src/cli/' },
    },
    {
      name: 'engine-knows-no-backend',
      comment: 'engine knows only the Storage interface: only cli/main.ts and service/server.ts pick a back end',
      severity: 'error',
      from: { path: '^src/engine/', pathNot: TESTS },
      to: { path: BACKENDS },
    },
    {
      name: 'service-knows-no-backend',
      comment: 'the service opens storage through ServiceContext.openBackend: only service/server.ts, its composition root, picks a back end',
      severity: 'error',
      from: { path: '^src/service/', pathNot: `${TESTS}|^src/service/server\\.ts$` },
      to: { path: BACKENDS },
    },
    {
      name: 'seed-uses-storage-interface-only',
      comment: 'seed uses only the Storage interface (src/storage/storage.ts), no back end, wrapper or registry',
      severity: 'error',
      from: { path: '^src/seed/', pathNot: TESTS },
      to: { path: '^src/storage/', pathNot: '^src/storage/storage\\.ts$' },
    },
    {
      name: 'jobs-without-http',
      comment: 'service/jobs is the job state machine shared by API, worker and CLI: no HTTP imports',
      severity: 'error',
      from: { path: '^src/service/jobs/', pathNot: TESTS },
      to: { path: '^src/service/(api/|server\\.ts$)|(^|/)node_modules/(fastify|@fastify/)|^(node:)?https?$' },
    },
    {
      name: 'production-code-not-to-tests',
      comment: 'testing/ folders and *.test.ts files are for tests only',
      severity: 'error',
      from: { path: '^src/', pathNot: TESTS },
      to: { path: TESTS },
    },
    {
      name: 'production-code-not-to-dev-dependencies',
      comment: 'a devDependency is not installed with the package: production code may not import it',
      severity: 'error',
      from: { path: '^src/', pathNot: TESTS },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that does not resolve would slip past every rule above',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^(@azure/|@aws-sdk/|@smithy/)' },
    },
    sdkHome('azure-sdk-only-in-storage-azure', '@azure/', 'src/storage/azure/'),
    sdkHome('aws-sdk-only-in-storage-s3', '@aws-sdk/|@smithy/', 'src/storage/s3/'),
    sdkHome('database-drivers-only-in-service-db', 'pg/|pg$|better-sqlite3/|better-sqlite3$', 'src/service/db/'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Count `import type` too, so type-only imports obey the layers.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
