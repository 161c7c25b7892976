"""Check the import contracts of ``pyproject.toml`` ([tool.importlinter]) with import-linter.

The one package ``genoffload`` is assembled from three folders (``toolkit/``, ``models/``,
``studies/``, mapped in ``pyproject.toml``), and grimp, import-linter's graph builder, reads a
package from one folder tree. So the three folders are copied (sources only) into a temporary
``genoffload/`` tree placed first on ``sys.path``, and the contracts are checked on it; the
reported module names are the real ones. Every top-level module must be in a layer (a new module
cannot escape the contract). Exit status: import-linter's (0: every contract kept).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"toolkit": "genoffload", "models": "genoffload/models", "studies": "genoffload/studies"}


def unlayered() -> list[str]:
    """Top-level modules of ``genoffload`` that no layer of the layers contract names."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {m.strip() for layer in layers for m in layer.replace("|", ":").split(":")}
    tops = {p.stem for p in (ROOT / "toolkit").iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    tops |= {"models", "studies"}
    return sorted(f"genoffload.{t}" for t in tops if f"genoffload.{t}" not in named)


def main() -> int:
    from importlinter.cli import lint_imports

    missing = unlayered()
    if missing:
        print(f"modules in no layer of pyproject.toml [tool.importlinter]: {', '.join(missing)}")
        return 1

    with tempfile.TemporaryDirectory(prefix="genoffload-imports-") as tmp:
        for folder, target in FOLDERS.items():
            shutil.copytree(ROOT / folder, Path(tmp) / target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.csv", "*.toml"))
        sys.path.insert(0, tmp)
        for name in [m for m in sys.modules if m == "genoffload" or m.startswith("genoffload.")]:
            del sys.modules[name]
        return int(lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True))


if __name__ == "__main__":
    sys.exit(main())
