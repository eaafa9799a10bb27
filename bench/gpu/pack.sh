#!/usr/bin/env bash
# Packs what a lent GPU machine needs for issue 18's checks into .device/ (git-ignored),
# under the 64 MiB a device call may carry: the GPU machine has no network, no Node and
# no Postgres, but has CUDA, cmake, ninja and python3 with numpy (seen there on
# 2026-12-04). The working tree itself travels with the call; this adds what git ignores:
#   .device/node.xz               the Node 24 binary running here, stripped
#   .device/node_modules.tar.xz   production dependencies (embedded Postgres included),
#                                 plus mocha and openai for the real-binary tests
#   .device/llama-src.tar.xz      llama.cpp's source from node-llama-cpp@3.21.1's git bundle,
#                                 without docs, tests, models and the non-CUDA GPU backends
# The models are made on the device (bench/gpu/gen_model.py) from the tokenizer and chat
# template in bench/gpu/tiny-llama-template.gguf, which travels with the working tree.
# Then, on the device: run(command "bash bench/gpu/run.sh", carry [".device"]).
# Needs Node 24 on PATH, the npm registry (once: the node-llama-cpp tarball, kept under
# ~/.cache/llama), git, xz and strip. Takes a few minutes (xz -9 on two cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/.device
work=$(mktemp -d /tmp/mia-pack.XXXXXX)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"

[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 24 ] || { echo "pack.sh: Node 24 must be on PATH (see .ci/run)" >&2; exit 1; }

echo "== node $(node --version)"
cp "$(command -v node)" "$work/node"
strip "$work/node"
xz -9 -T0 -c "$work/node" > "$out/node.xz"

echo "== node_modules (production, plus the test runner)"
mkdir -p "$work/deps"
cp package.json package-lock.json "$work/deps/"
mocha=$(node -p "require('./package-lock.json').packages['node_modules/mocha'].version")
openai=$(node -p "require('./package-lock.json').packages['node_modules/openai'].version")
(
  cd "$work/deps"
  npm ci --omit=dev --no-audit --no-fund --loglevel=error
  npm install --no-save --omit=dev --no-audit --no-fund --loglevel=error "mocha@$mocha" "openai@$openai"
  # Never loaded at run time on the device: type declarations, the docs toolchain and
  # redoc's React stack (the API serves redoc's standalone bundle, which stays).
  rm -rf node_modules/typescript node_modules/@types node_modules/@redocly node_modules/core-js \
         node_modules/react-dom node_modules/mobx node_modules/styled-components node_modules/polished \
         node_modules/prismjs
)
tar -C "$work/deps" -cf - node_modules | xz -9 -T0 > "$out/node_modules.tar.xz"

echo "== llama.cpp source (node-llama-cpp@3.21.1)"
mkdir -p ~/.cache/llama
tarball=~/.cache/llama/node-llama-cpp-3.21.1.tgz
[ -f "$tarball" ] || (cd ~/.cache/llama && npm pack node-llama-cpp@3.21.1 --silent >/dev/null)
tar -xzf "$tarball" -C "$work" package/llama/gitRelease.bundle
git -c advice.detachedHead=false clone -q "$work/package/llama/gitRelease.bundle" "$work/llama"
(
  cd "$work/llama"
  rm -rf .git docs models tests benches media examples tools/server/tests
  for backend in sycl opencl metal hexagon vulkan et cann webgpu openvino; do rm -rf "ggml/src/ggml-$backend"; done
)
tar -C "$work" -cf - llama | xz -9 -T0 > "$out/llama-src.tar.xz"

du -b "$out"/* | awk '{ total += $1; printf "%8.1f MiB  %s\n", $1 / 1048576, $2 } END { printf "%8.1f MiB  in all (a device call carries 64 MiB)\n", total / 1048576; exit (total > 64 * 1048576) }'
