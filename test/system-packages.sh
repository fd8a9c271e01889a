#!/usr/bin/env bash
# What the test suite needs from Debian, installed when missing (`npm test` runs this first, and CI
# runs `npm test`): so a fresh machine runs every test and none is skipped for want of a tool.
#   chromium               the reports' real-browser tests
#   dataset-fashion-mnist  the engine's dataset tests
#   python3-torch, numpy   the PyTorch recorder and ONNX export tests (run with /usr/bin/python3)
#   slurm-wlm, munge       the sweep test that submits a job array to a real single-node Slurm
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] || need+=(dataset-fashion-mnist)
/usr/bin/python3 -c "import torch, numpy" >/dev/null 2>&1 || need+=(python3-torch python3-numpy)
{ command -v slurmctld && command -v slurmd && command -v sbatch; } >/dev/null 2>&1 || need+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || need+=(munge)
[ ${#need[@]} -eq 0 ] && exit 0

echo "test/system-packages.sh: installing ${need[*]} (Debian packages the tests need)" >&2
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo -E apt-get update -qq && sudo -E apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "test/system-packages.sh: the tests need these Debian packages; as root run: apt-get install ${need[*]}" >&2
  exit 1
fi
