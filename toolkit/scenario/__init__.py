"""Scenarios: generated (3GPP TR 38.901 urban layouts) or explicit (user data), as xarray Datasets."""

from genoffload.scenario.config import ScenarioConfig, make_config, read_config_file
from genoffload.scenario.dataset import save, validate
from genoffload.scenario.explicit import from_document, load_scenario
from genoffload.scenario.generate import generate

__all__ = [
    "ScenarioConfig",
    "from_document",
    "generate",
    "load_scenario",
    "make_config",
    "read_config_file",
    "save",
    "validate",
]
