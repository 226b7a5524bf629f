# Builds the treecopy Python package with the project's own CMake (the engine linked in statically,
# so the extension needs no libtreecopy.so), offline:
#   python3 -m pip install --no-build-isolation ./python
# Needs cmake, a C++20 compiler, libtbb-dev, pybind11-dev, python3-dev, python3-setuptools/-wheel.
import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        match = re.search(r"project\(treecopy\s+VERSION\s+([0-9.]+)", f.read())
    return match.group(1) if match else "0.0.0"


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configures the whole project with the Python modules enabled and builds the extension's target."""

    def build_extension(self, ext):
        build_dir = os.path.abspath(os.path.join(self.build_temp, "cmake"))
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.check_call([
            "cmake", "-S", ROOT, "-B", build_dir,
            "-DCMAKE_BUILD_TYPE=Release",
            "-DBUILD_SHARED_LIBS=OFF",
            "-DTREECOPY_BUILD_PYTHON=ON",
            "-DTREECOPY_BUILD_CLI=ON",  # for treecopy._cli (python -m treecopy)
            "-DTREECOPY_BUILD_TESTS=OFF",
            "-DTREECOPY_BUILD_BENCH=OFF",
            "-DTREECOPY_INSTALL=OFF",
            "-DPython3_EXECUTABLE=" + sys.executable,
        ])
        cmake_target = ext.name.rsplit(".", 1)[1]
        subprocess.check_call(["cmake", "--build", build_dir, "--target", cmake_target, "--parallel", jobs])
        built = glob.glob(os.path.join(build_dir, "python", "treecopy", cmake_target + ".*so"))
        if len(built) != 1:
            raise RuntimeError("expected one built %s module, found %r" % (cmake_target, built))
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


setup(
    version=project_version(),
    packages=["treecopy"],
    package_dir={"treecopy": "treecopy"},
    ext_modules=[CMakeExtension("treecopy._treecopy"), CMakeExtension("treecopy._cli")],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
