#!/usr/bin/env bash
# Install torch (and torch_npu on Ascend) into the given Python environment, picking the build
# for this machine so pip never pulls a multi-GB CUDA build onto a CPU-only box by accident.
#   scripts/install_torch.sh .venv/bin/python
# Override with TORCH_SPEC="torch==2.8.0 torch_npu==2.8.0" (or any pip requirement list).
set -euo pipefail
PY=${1:-python3}

if "$PY" -c "import torch" 2>/dev/null && [ -z "${TORCH_SPEC:-}" ]; then
    echo "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
    exit 0
fi

if [ -n "${TORCH_SPEC:-}" ]; then
    spec=$TORCH_SPEC
elif command -v npu-smi >/dev/null 2>&1; then
    # Ascend: torch_npu must match torch exactly (see README).
    spec="torch==2.8.0 torch_npu==2.8.0 pyyaml decorator attrs psutil"
elif command -v nvidia-smi >/dev/null 2>&1; then
    spec="torch==2.8.0"
else
    # CPU. On our build machines this release lies on disk as a CPU build; elsewhere point pip at
    # PyTorch's CPU wheel index (PIP_EXTRA_INDEX_URL) to avoid the CUDA build.
    spec="torch==2.13.0"
fi
echo "installing: $spec"
# shellcheck disable=SC2086
"$PY" -m pip install $spec
