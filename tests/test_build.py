"""What the build produces: the core without torch, and the CUDA module whenever nvcc is there."""
import shutil
import subprocess

import pytest

from transformers_fast.ops import _backend


def _needed_libraries(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf not available")
def test_core_does_not_link_torch():
    needed = _needed_libraries(_backend._C.__file__)
    assert needed, "readelf found no dependencies at all"
    assert not [lib for lib in needed if "torch" in lib or "c10" in lib], needed


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH: _cuda is not built")
def test_cuda_module_built_when_nvcc_is_present():
    cuda = _backend.cuda_extension()
    assert cuda is not None, "nvcc is on PATH but transformers_fast._cuda was not built"
    assert cuda.runtime_version() >= 11000
    assert cuda.device_count() >= 0
    assert "80" in cuda.architectures.split() and "90" in cuda.architectures.split()
    if shutil.which("readelf"):
        assert not [lib for lib in _needed_libraries(cuda.__file__) if "cudart" in lib], "cudart must be static"
