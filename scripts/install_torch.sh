#!/usr/bin/env bash
# Install torch (and torch_npu on Ascend) into the given Python environment, picking the build
# for this machine so pip never pulls a multi-GB CUDA build onto a CPU-only box by accident.
#   scripts/install_torch.sh .venv/bin/python
#   scripts/install_torch.sh --spec npu|cuda|cpu     # print that machine kind's pins and exit
# Override with TORCH_SPEC="torch==2.8.0 torch_npu==2.8.0" (or any pip requirement list).
# This file is the one place the torch pins live; the Makefile and docker/ read them from here.
set -euo pipefail

spec_for() {
    case "$1" in
        # Ascend: torch_npu must match torch exactly (see README); the rest are torch_npu's
        # undeclared run-time needs.
        npu) echo "torch==2.8.0 torch_npu==2.8.0 pyyaml decorator attrs psutil" ;;
        cuda) echo "torch==2.8.0" ;;
        # On our build machines this release lies on disk as a CPU build; elsewhere point pip at
        # PyTorch's CPU wheel index (PIP_EXTRA_INDEX_URL) to avoid the CUDA build.
        cpu) echo "torch==2.13.0" ;;
        *) echo "unknown machine kind '$1' (npu, cuda or cpu)" >&2; return 2 ;;
    esac
}

if [ "${1:-}" = "--spec" ]; then
    spec_for "${2:-}"
    exit $?
fi
PY=${1:-python3}

if "$PY" -c "import torch" 2>/dev/null && [ -z "${TORCH_SPEC:-}" ]; then
    echo "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
    exit 0
fi

if [ -n "${TORCH_SPEC:-}" ]; then
    spec=$TORCH_SPEC
elif command -v npu-smi >/dev/null 2>&1; then
    spec=$(spec_for npu)
elif command -v nvidia-smi >/dev/null 2>&1; then
    spec=$(spec_for cuda)
else
    spec=$(spec_for cpu)
fi
echo "installing: $spec"
# shellcheck disable=SC2086
"$PY" -m pip install $spec
