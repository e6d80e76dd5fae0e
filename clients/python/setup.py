"""Build hook: generates the gRPC stubs from Patron's .proto files while the
wheel is built, so they always match the contracts and are never committed.

The protos are read from ``../../proto`` (the repository's contracts), or
from ``./proto`` inside an sdist, or from ``$PATRON_PROTO_DIR``.
"""

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent


def proto_root() -> Path:
    candidates = [Path(os.environ["PATRON_PROTO_DIR"])] if os.environ.get("PATRON_PROTO_DIR") else []
    candidates += [HERE / "proto", HERE.parent.parent / "proto"]
    for candidate in candidates:
        if (candidate / "patron").is_dir():
            return candidate
    raise SystemExit(f"no Patron protos found in any of {[str(c) for c in candidates]}")


def proto_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in (root / "patron").rglob("*.proto"))


def generate_stubs(root: Path, out_dir: Path) -> None:
    # Imported here: grpcio-tools is a build requirement, not a runtime one.
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    files = proto_files(root)
    # Stubs of a previous build (an in-tree build reuses build/lib) go first,
    # so a removed proto leaves nothing behind; hand-written modules are files.
    for stale in (out_dir / "patron").glob("*/"):
        if stale.is_dir() and stale.name != "__pycache__":
            shutil.rmtree(stale)
    arguments = [
        "grpc_tools.protoc",
        f"--proto_path={root}",
        f"--proto_path={well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    if protoc.main(arguments) != 0:
        raise SystemExit(f"grpc_tools.protoc failed on {files}")
    # The generated modules import each other as patron.<service>.v1; make
    # each directory a regular package.
    for directory in (out_dir / "patron").rglob("*"):
        if directory.is_dir() and not (directory / "__init__.py").exists():
            (directory / "__init__.py").write_text("")


class BuildWithStubs(build_py):
    def run(self) -> None:
        super().run()
        generate_stubs(proto_root(), Path(self.build_lib))


class SdistWithProtos(sdist):
    """Carries the protos inside the sdist, which has no ../../proto."""

    def make_release_tree(self, base_dir, files) -> None:
        super().make_release_tree(base_dir, files)
        root = proto_root()
        for relative in proto_files(root):
            target = Path(base_dir) / "proto" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / relative, target)


setup(cmdclass={"build_py": BuildWithStubs, "sdist": SdistWithProtos})
