#!/usr/bin/env bash
# Installs torch only where none is importable: the 183 MB CPU-only wheel first (TORCH_SPEC, a version that the
# PyTorch CPU index and some mirrors serve, PyPI itself does not), then the PyTorch CPU index, then plain
# `pip install torch` (PyPI's build, with CUDA libraries on Linux) so that the first command works anywhere.
set -u
PYTHON=${1:-python3}
SPEC=${TORCH_SPEC:-torch==2.13.0+cpu}
"$PYTHON" -c "import torch" 2>/dev/null && exit 0
"$PYTHON" -m pip install "$SPEC" && exit 0
echo "install_torch: $SPEC is not available here; trying the PyTorch CPU index" >&2
"$PYTHON" -m pip install --index-url https://download.pytorch.org/whl/cpu torch && exit 0
echo "install_torch: the PyTorch CPU index is not reachable; installing torch from the default index" >&2
exec "$PYTHON" -m pip install torch
