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


def test_install_pins_the_torch_distribution_not_its_version_string(tmp_path):
    """`make install` pins the torch that is there. PyPI's CUDA builds say 2.14.1+cu130 in torch.__version__ but
    2.14.1 in their pip metadata: a pin taken from __version__ matches no installed torch and the install fails."""
    import os
    import sys

    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text('__version__ = "9.8.7+cu999"\n')
    (tmp_path / "torch-9.8.7.dist-info").mkdir()
    (tmp_path / "torch-9.8.7.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 9.8.7\n")
    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "torch_constraint.py")
    out = subprocess.run([sys.executable, "-S", script], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert out.stdout.strip() == "torch==9.8.7"
    makefile = open(os.path.join(os.path.dirname(__file__), "..", "Makefile")).read()
    assert "scripts/torch_constraint.py > $(CONSTRAINTS)" in makefile
