#!/usr/bin/env bash
# Start the vitdet container the way the source document started cann:8.5.0: privileged, host
# network and IPC, the Ascend control nodes, one /dev/davinciN per card, and the host's driver,
# dcmi, npu-smi, sbin and hccn_tool mounted read-through.
#   docker/run.sh                  # image vitdet-npu, all cards, detached; then:
#   docker exec -it vitdet_npu bash
#   CARDS="6 7" IMAGE=vitdet-npu NAME=vitdet_npu docker/run.sh [COMMAND...]
# The lists match vitdet_cli/platform/container.py (tests/test_docker.py checks both).
set -euo pipefail
IMAGE=${IMAGE:-vitdet-npu}
NAME=${NAME:-vitdet_npu}

args=(run -it -u root -d --net=host --privileged --ipc=host)
for node in /dev/davinci_manager /dev/devmm_svm /dev/hisi_hdc; do
    args+=("--device=$node")
done
if [ -n "${CARDS:-}" ]; then
    for card in $CARDS; do
        args+=("--device=/dev/davinci$card")
    done
else
    for node in /dev/davinci[0-9]*; do
        [ -e "$node" ] && args+=("--device=$node")
    done
fi
for path in /usr/local/Ascend/driver /usr/local/dcmi /usr/local/bin/npu-smi /usr/local/sbin \
    /usr/local/Ascend/driver/tools/hccn_tool; do
    args+=(-v "$path:$path")
done
args+=(--name "$NAME" "$IMAGE")
if [ "$#" -gt 0 ]; then
    args+=("$@")
else
    args+=(/bin/bash)
fi
exec docker "${args[@]}"
