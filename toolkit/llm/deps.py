"""Optional packages of the LLM providers: the one-line error that names the pip extra."""

from __future__ import annotations


class MissingDependencyError(ImportError):
    """An optional package needed by the chosen ``--llm`` provider is not installed."""


def missing_dependency(provider: str, package: str, extra: str) -> MissingDependencyError:
    """One-line error naming the missing package and the pip extra that installs it.

    Parameters
    ----------
    provider : str
        The ``--llm`` provider that needs it.
    package : str
        PyPI name of the missing package.
    extra : str
        The ``genoffload`` extra that installs it.

    Returns
    -------
    MissingDependencyError
        To be raised by the caller.
    """
    return MissingDependencyError(
        f"llm: provider '{provider}' needs the package {package}, which is not installed "
        f"(install it with: pip install 'genoffload[{extra}]')"
    )
