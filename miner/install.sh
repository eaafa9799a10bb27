#!/usr/bin/env bash
# Sets up a MIA miner on a fresh Ubuntu GPU box: checks Node, the NVIDIA driver and
# CUDA; builds llama.cpp's llama-server with CUDA; downloads a GGUF model; writes the
# miner's config; optionally installs a systemd unit that restarts it.
#
#   miner/install.sh --backend-url https://mia.example.com [--name gpu-box-1] [--systemd]
#   miner/install.sh --dry-run      # print every step, change nothing, exit 0
#
# Run it from a checkout of the MIA repository (the miner runs from there).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY_RUN=0
BACKEND_URL="${MIA_BACKEND_URL:-http://127.0.0.1:8000}"
MINER_NAME="${MIA_MINER_NAME:-$(hostname | tr -c 'A-Za-z0-9._\n-' '-')}"
PREFIX="${MIA_MINER_PREFIX:-/opt/mia-miner}"
CONFIG_DIR="/etc/mia-miner"
LLAMA_SRC=""
LLAMA_REPO="https://github.com/ggml-org/llama.cpp"
LLAMA_REF="master"
MODEL_URL="https://huggingface.co/bartowski/Qwen2.5-7B-Instruct-GGUF/resolve/main/Qwen2.5-7B-Instruct-Q4_K_M.gguf"
MODEL_PATH=""
SLOTS=4
CTX_PER_SLOT=4096
GPU_LAYERS=99
SYSTEMD=0
CPU_ONLY=0
SERVICE_USER="${SUDO_USER:-$(id -un)}"

usage() {
  cat <<EOF
usage: miner/install.sh [options]
  --backend-url URL     MIA backend (default $BACKEND_URL)
  --name NAME           miner name, unique on the backend (default: host name)
  --prefix DIR          where llama.cpp and the model go (default $PREFIX)
  --llama-src DIR       build this llama.cpp checkout instead of cloning one
  --llama-ref REF       git tag/branch to clone (default $LLAMA_REF)
  --model-url URL       GGUF to download (default Qwen2.5-7B-Instruct Q4_K_M)
  --model PATH          use this GGUF file; download nothing
  --slots N             parallel jobs (default $SLOTS)
  --ctx-per-slot N      context tokens per slot (default $CTX_PER_SLOT)
  --cpu                 no GPU: build without CUDA (testing only; slow)
  --systemd             install and start the mia-miner systemd service
  --user USER           user the service runs as (default $SERVICE_USER)
  --dry-run             print every step, change nothing
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --backend-url) BACKEND_URL="$2"; shift 2 ;;
    --name) MINER_NAME="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    --llama-src) LLAMA_SRC="$2"; shift 2 ;;
    --llama-ref) LLAMA_REF="$2"; shift 2 ;;
    --model-url) MODEL_URL="$2"; shift 2 ;;
    --model) MODEL_PATH="$2"; shift 2 ;;
    --slots) SLOTS="$2"; shift 2 ;;
    --ctx-per-slot) CTX_PER_SLOT="$2"; shift 2 ;;
    --cpu) CPU_ONLY=1; shift ;;
    --systemd) SYSTEMD=1; shift ;;
    --user) SERVICE_USER="$2"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

LLAMA_SRC="${LLAMA_SRC:-$PREFIX/llama.cpp}"
LLAMA_BIN="$LLAMA_SRC/build/bin/llama-server"
MODEL_PATH="${MODEL_PATH:-$PREFIX/models/$(basename "$MODEL_URL")}"
STATE_DIR="/var/lib/mia-miner"
ENV_FILE="$CONFIG_DIR/miner.env"
UNIT_FILE="/etc/systemd/system/mia-miner.service"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

step() { printf '\n==> %s\n' "$*"; }
# Every change goes through run: printed always, executed unless --dry-run.
run() {
  printf '  + %s\n' "$*"
  if [ "$DRY_RUN" -eq 0 ]; then "$@"; fi
}
# Writes stdin to a file (as root when needed); in a dry run, shows the content.
write_file() {
  local path="$1" mode="$2"
  printf '  + write %s (mode %s)\n' "$path" "$mode"
  if [ "$DRY_RUN" -eq 1 ]; then sed 's/^/      | /'; return; fi
  $SUDO mkdir -p "$(dirname "$path")"
  $SUDO tee "$path" >/dev/null
  $SUDO chmod "$mode" "$path"
}
fail() {
  echo "install.sh: $*" >&2
  if [ "$DRY_RUN" -eq 1 ]; then echo "  (dry run: continuing)"; else exit 1; fi
}

[ "$DRY_RUN" -eq 1 ] && echo "DRY RUN: nothing will be changed"

step "1/7 checking the system"
if [ -r /etc/os-release ]; then . /etc/os-release; echo "  OS: ${PRETTY_NAME:-unknown}"; fi
[ "${ID:-}" = "ubuntu" ] || echo "  note: written for Ubuntu; other distributions may need other package names"
if command -v node >/dev/null 2>&1; then
  NODE_VERSION="$(node --version)"
  echo "  Node: $NODE_VERSION"
  NODE_MAJOR="${NODE_VERSION#v}"; NODE_MAJOR="${NODE_MAJOR%%.*}"
  [ "$NODE_MAJOR" -ge 24 ] || fail "Node $NODE_VERSION is too old; install Node 24 LTS or newer (https://nodejs.org, or: curl -fsSL https://deb.nodesource.com/setup_24.x | sudo -E bash - && sudo apt-get install -y nodejs)"
else
  fail "Node is not installed; install Node 24 LTS or newer (curl -fsSL https://deb.nodesource.com/setup_24.x | sudo -E bash - && sudo apt-get install -y nodejs)"
fi
if [ "$CPU_ONLY" -eq 0 ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=index,name,memory.total,driver_version,compute_cap --format=csv,noheader >/dev/null 2>&1; then
    nvidia-smi --query-gpu=index,name,memory.total,driver_version,compute_cap --format=csv,noheader | sed 's/^/  GPU: /'
  else
    fail "nvidia-smi does not list a GPU; install the NVIDIA driver (sudo ubuntu-drivers install), reboot, or use --cpu"
  fi
  NVCC="$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)"
  if [ -n "$NVCC" ]; then
    echo "  CUDA: $("$NVCC" --version | tail -n 1)"
  else
    fail "the CUDA toolkit (nvcc) is missing; install it (sudo apt-get install -y nvidia-cuda-toolkit, or NVIDIA's cuda-toolkit package)"
  fi
fi

step "2/7 build tools"
run $SUDO apt-get update
run $SUDO apt-get install -y build-essential cmake git curl ca-certificates

step "3/7 llama.cpp source"
if [ -d "$LLAMA_SRC/.git" ] || [ -f "$LLAMA_SRC/CMakeLists.txt" ]; then
  echo "  using $LLAMA_SRC"
else
  run $SUDO mkdir -p "$PREFIX"
  run $SUDO chown "$SERVICE_USER" "$PREFIX"
  run git clone --depth 1 --branch "$LLAMA_REF" "$LLAMA_REPO" "$LLAMA_SRC"
fi

step "4/7 building llama-server"
CUDA_FLAG="-DGGML_CUDA=ON"
[ "$CPU_ONLY" -eq 1 ] && CUDA_FLAG="-DGGML_CUDA=OFF"
# No OpenSSL (the miner talks to it over loopback only) and no web UI (unused).
run cmake -S "$LLAMA_SRC" -B "$LLAMA_SRC/build" -DCMAKE_BUILD_TYPE=Release "$CUDA_FLAG" \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF
run cmake --build "$LLAMA_SRC/build" --config Release --target llama-server -j "$(nproc)"
echo "  binary: $LLAMA_BIN"

step "5/7 model"
if [ -f "$MODEL_PATH" ]; then
  echo "  using $MODEL_PATH"
else
  run mkdir -p "$(dirname "$MODEL_PATH")"
  # -C - resumes an interrupted download; the .part rename makes a partial file impossible to mistake for a model.
  run curl -fL --retry 5 -C - -o "$MODEL_PATH.part" "$MODEL_URL"
  run mv "$MODEL_PATH.part" "$MODEL_PATH"
fi

step "6/7 miner dependencies and config"
if [ -n "${MIA_ENROLMENT_TOKEN:-}" ]; then ENROLMENT_LINE="MIA_ENROLMENT_TOKEN=$MIA_ENROLMENT_TOKEN"; else ENROLMENT_LINE="# MIA_ENROLMENT_TOKEN="; fi
run npm --prefix "$REPO_DIR" ci --omit=dev --no-audit --no-fund
write_file "$ENV_FILE" 0640 <<EOF
# mia-miner settings (see the README, "For miner operators"; flags override these)
MIA_BACKEND_URL=$BACKEND_URL
MIA_MINER_NAME=$MINER_NAME
MIA_LLAMA_SERVER=$LLAMA_BIN
MIA_MODEL=$MODEL_PATH
MIA_GPU_LAYERS=$GPU_LAYERS
MIA_SLOTS=$SLOTS
MIA_CTX_PER_SLOT=$CTX_PER_SLOT
MIA_STATE_DIR=$STATE_DIR
# Where the backend registers miners by token, the one its operator gave you (first start only):
$ENROLMENT_LINE
EOF
run $SUDO mkdir -p "$STATE_DIR"
run $SUDO chown "$SERVICE_USER" "$STATE_DIR"
run $SUDO chmod 0700 "$STATE_DIR"

step "7/7 service"
if [ "$SYSTEMD" -eq 1 ]; then
  write_file "$UNIT_FILE" 0644 <<EOF
[Unit]
Description=MIA miner (llama-server supervisor)
After=network-online.target
Wants=network-online.target

[Service]
User=$SERVICE_USER
EnvironmentFile=$ENV_FILE
ExecStart=$(command -v node || echo /usr/bin/node) $REPO_DIR/miner/bin/mia-miner.js run
Restart=always
RestartSec=5
# SIGTERM to the miner only: it drains its jobs and stops llama-server itself.
# (control-group would signal llama-server at once, mid-job.) Whatever is left
# after TimeoutStopSec gets SIGKILL.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=180

[Install]
WantedBy=multi-user.target
EOF
  run $SUDO systemctl daemon-reload
  run $SUDO systemctl enable --now mia-miner
  echo "  logs: journalctl -u mia-miner -f"
else
  echo "  no --systemd: start it with"
  echo "    set -a; . $ENV_FILE; set +a; node $REPO_DIR/miner/bin/mia-miner.js run"
fi

step "checking the result"
if [ "$DRY_RUN" -eq 1 ]; then
  echo "  + set -a; . $ENV_FILE; set +a; node $REPO_DIR/miner/bin/mia-miner.js doctor"
  echo "DRY RUN complete: nothing was changed"
else
  (set -a; . "$ENV_FILE"; set +a; node "$REPO_DIR/miner/bin/mia-miner.js" doctor) || true
fi
