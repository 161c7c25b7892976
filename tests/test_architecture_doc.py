"""docs/architecture.md names every module of the package in its "Modules" table."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
FOLDERS = {"toolkit": "genoffload", "models": "genoffload.models", "studies": "genoffload.studies"}
"""Source folder -> its import name (``pyproject.toml``, ``[tool.setuptools] package-dir``)."""


def module_names() -> list[str]:
    """Dotted name of every ``*.py`` file of the three source folders (``__init__``: the package)."""
    names = []
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join([package, *parts]))
    return names


def modules_section() -> str:
    """The text of the "## Modules" section of the architecture page."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("\n## Modules\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_module_names_cover_the_known_layout() -> None:
    names = module_names()
    assert "genoffload" in names
    assert "genoffload.models.solve" in names
    assert "genoffload.studies.run" in names
    assert "genoffload.policies.icl.policy" in names
    assert len(names) == len(set(names))


def test_every_module_is_named_in_the_modules_table() -> None:
    section = modules_section()
    rows = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    missing = [name for name in module_names() if name not in rows]
    assert not missing, (
        "docs/architecture.md, section Modules: no row for " + ", ".join(missing))


def test_every_module_is_named_in_backticks_in_the_page() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in module_names() if f"`{name}`" not in text]
    assert not missing, "docs/architecture.md does not name " + ", ".join(missing)


def test_every_row_of_the_modules_table_is_a_module() -> None:
    known = set(module_names())
    rows = [line.split("`")[1] for line in modules_section().splitlines() if line.startswith("| `")]
    unknown = [name for name in rows if name not in known]
    assert not unknown, "docs/architecture.md, section Modules: no such module " + ", ".join(unknown)
    assert len(rows) == len(set(rows)), "a module has two rows"
