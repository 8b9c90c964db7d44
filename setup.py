"""Builds the C++ extension modules through CMake (see CMakeLists.txt)."""
import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        # All CMake targets land next to the first one (_C), inside the package directory.
        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        self.cmake_out_dir = out_dir
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        import pybind11

        cfg = os.environ.get("TF_BUILD_TYPE", "Release")
        args = [
            "cmake", str(ROOT), "-G", "Ninja",
            f"-DCMAKE_BUILD_TYPE={cfg}",
            f"-DTF_OUTPUT_DIR={out_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
        ]
        subprocess.check_call(args, cwd=build_dir)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.check_call(["cmake", "--build", ".", "-j", jobs], cwd=build_dir)

    def copy_extensions_to_source(self):
        # In-place and editable builds: also copy the modules setuptools does not know of (_cuda).
        super().copy_extensions_to_source()
        package_dir = Path(self.get_ext_fullpath(self.extensions[0].name)).resolve().parent
        for module in self.cmake_out_dir.glob("_*.so"):
            if module.name != Path(self.get_ext_filename(self.extensions[0].name)).name:
                self.copy_file(str(module), str(package_dir / module.name))


setup(
    ext_modules=[CMakeExtension("transformers_fast._C")],
    cmdclass={"build_ext": CMakeBuild},
)
