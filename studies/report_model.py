"""What a study report holds, ready to render: :class:`Report` and its :class:`Section` s (the same
shell for every study kind; :mod:`genoffload.studies.report` builds and renders them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from genoffload.studies.figures import Panel
from genoffload.studies.report_tables import Table


@dataclass
class Section:
    """A section of figures in the report.

    Attributes
    ----------
    section_id : str
        ``id`` of the HTML section.
    heading : str
        Its heading (``h2``).
    panels : list[Panel]
    nav : tuple[str, str]
        Anchor and label of its link in the navigation bar.
    heading_id : str, optional
        ``id`` of the heading.
    """

    section_id: str
    heading: str
    panels: list[Panel]
    nav: tuple[str, str]
    heading_id: str | None = None


@dataclass
class Report:
    """Everything the report shows, ready to render (the same shell for every study kind)."""

    name: str
    description: str
    facts: list[tuple[str, str]]
    notes: list[str]
    sections: list[Section]
    tables: list[Table]
    metadata: Table
    texts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def panels(self) -> list[Panel]:
        """Every figure panel, in report order."""
        return [p for s in self.sections for p in s.panels]
