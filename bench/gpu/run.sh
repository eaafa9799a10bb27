#!/usr/bin/env bash
# Issue 18's GPU checks in one device call, from what bench/gpu/pack.sh put in .device/:
#   run(command: "bash bench/gpu/run.sh", carry: [".device"], timeout_s: 600)
# On the device (no network, no Node, no Postgres): unpacks Node and node_modules, builds a
# CUDA llama-server from llama.cpp's source while gen_model.py writes a random-weight
# 7B-shape model (~4 GB, Q4_K), then runs, with everything on that one machine:
#   1. npm run bench -- --only=7-supervisor,8-ttft against the CUDA build and the 7B model,
#      all layers on the GPU (LLAMA_ARGS="-ngl 99");
#   2. the real-binary tests (test/miner/{e2e,llamaProcess,fakeLlamaServer}.test.ts,
#      test/api/openaiParameters.test.ts) against the CUDA build and a small random model
#      of the same kind (256 wide, 2 layers, 512 context; the 17 MB tiny fixture does not
#      fit in what a call carries), as CI runs them against the double.
# Everything it prints goes to $OUT/run.log; the bench's JSON and the build log go to $OUT.
# Rehearse it here with MIA_GPU_REHEARSAL=1 (and MIA_GPU_LLAMA_ARGS="-t 2"): a CPU build
# (7-20 minutes on two cores, kept in ~/.cache/llama/cpu-build) and the small model for the
# bench too.
set -euo pipefail
cd "$(dirname "$0")/../.."
pack=$PWD/.device
out=${OUT:-/tmp/mia-gpu-out}
mkdir -p "$out"
exec > >(tee "$out/run.log") 2>&1
started=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - started )) s] $*"; }

rehearsal=${MIA_GPU_REHEARSAL:-0}
tmp=${MIA_GPU_TMP:-/tmp/mia-gpu}
mkdir -p "$tmp"
stamp "machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"

stamp "node"
if [ "$rehearsal" = 1 ] && command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 24 ]; then
  echo "rehearsal: the node on PATH"
else
  xz -dc "$pack/node.xz" > "$tmp/node" && chmod +x "$tmp/node"
  export PATH="$tmp:$PATH"
fi
node --version

stamp "node_modules"
[ -d node_modules ] && [ "$rehearsal" = 1 ] || tar -xJf "$pack/node_modules.tar.xz"

stamp "llama-server build (background)"
# A rehearsal keeps the source it built before (a fresh copy would rebuild everything).
[ "$rehearsal" = 1 ] && [ -d "$tmp/llama" ] || { rm -rf "$tmp/llama" && tar -xJf "$pack/llama-src.tar.xz" -C "$tmp"; }
if [ "$rehearsal" = 1 ]; then
  build=${MIA_GPU_CPU_BUILD:-$HOME/.cache/llama/cpu-build}
  gpu_flags=()
else
  build=$tmp/llama/build
  gpu_flags=(-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90)
fi
(
  cmake -S "$tmp/llama" -B "$build" -G Ninja "${gpu_flags[@]}" -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
  cmake --build "$build" --target llama-server -j "$(nproc)"
) > "$out/llama-build.log" 2>&1 &
build_pid=$!

stamp "models (gen_model.py)"
gen() { PYTHONPATH="$tmp/llama/gguf-py" python3 bench/gpu/gen_model.py bench/gpu/tiny-llama-template.gguf "$@"; }
small=$tmp/random-small-q4k.gguf
gen "$small" --embd 256 --layers 2 --heads 4 --ff 512 --ctx 512 --name random-llama-small-q4k
if [ "$rehearsal" = 1 ]; then
  model=$small
else
  model=$tmp/random-7b-q4k.gguf
  gen "$model"
fi

wait "$build_pid" || { tail -40 "$out/llama-build.log"; exit 1; }
bin=$build/bin/llama-server
stamp "built: $($bin --version 2>&1 | tail -2 | tr '\n' ' ')"

status=0
stamp "bench 7-supervisor, 8-ttft ($model)"
LLAMA_SERVER_BIN=$bin LLAMA_MODEL=$model LLAMA_ARGS="${MIA_GPU_LLAMA_ARGS:--ngl 99}" \
  node --import tsx bench/run.ts --only=7-supervisor,8-ttft || status=1
cp bench/results/*-only-7-supervisor+8-ttft.json "$out/" 2>/dev/null || true

stamp "real-binary tests ($small)"
LLAMA_SERVER_BIN=$bin LLAMA_MODEL=$small node_modules/.bin/mocha \
  test/miner/e2e.test.ts test/miner/llamaProcess.test.ts test/miner/fakeLlamaServer.test.ts test/api/openaiParameters.test.ts || status=1

stamp "done (status $status)"
exit $status
