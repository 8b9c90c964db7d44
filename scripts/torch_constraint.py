"""Prints the pip constraint that keeps the installed torch ("torch==VERSION"), or nothing where torch has no
pip metadata. The version is the distribution's, not torch.__version__: PyPI's CUDA builds report a local label
there (2.14.1+cu130) that their metadata lacks (2.14.1), and pip would then find no torch to satisfy it."""
from importlib import metadata

versions = [d.version for d in metadata.distributions() if (d.metadata["Name"] or "").lower() == "torch"]
if versions:
    print(f"torch=={versions[0]}")
