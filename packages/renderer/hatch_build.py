"""Build hook: compile the renderer's C kernels (src/pixelgpt/renderer/kernels.c) into _kernels.so.

The library goes next to its source, so editable installs (uv sync) find it too; wheels carry it as an
artifact. Needs a C compiler (`cc`, or $CC); `make setup` installs gcc. kernels.c includes kernels.h, the
declarations kernels.py gives cffi, so the compiler checks that the two agree. Warnings fail the build only
under CI (CI set in the environment): a newer compiler's new warning must not stop a user's install.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

FLAGS = ["-O2", "-fPIC", "-shared", "-std=c11", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra"]


class KernelsBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        src = Path(self.root) / "src" / "pixelgpt" / "renderer" / "kernels.c"
        out = src.with_name("_kernels.so")
        strict = ["-Werror"] if os.environ.get("CI") else []
        cmd = [*shlex.split(os.environ.get("CC", "cc")), *FLAGS, *strict, "-o", str(out), str(src), "-lm"]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        except FileNotFoundError as e:
            raise RuntimeError(f"pixelgpt-renderer needs a C compiler to build its kernels: {e}") from e
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"compiling {src.name} failed: {shlex.join(cmd)}\n{e.stderr}") from e
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
