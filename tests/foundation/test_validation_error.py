"""One conversion of pydantic errors into one-line InputErrors (``errors.validation_error``), the
same field names wherever a model is validated."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from genoffload.errors import InputError, validation_error
from genoffload.scenario import make_config


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    low: int = 0
    high: int = 1

    @model_validator(mode="after")
    def _ordered(self) -> Pair:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


def _error(values: dict[str, Any], **kwargs: Any) -> InputError:
    with pytest.raises(ValidationError) as info:
        Pair.model_validate(values)
    return validation_error(info.value, **kwargs)


def test_fields_reasons_and_root() -> None:
    assert str(_error({"lo": 1}, prefix="sweep[1]")) == "sweep[1].lo: unknown key (got 1)"
    assert _error({"lo": 1}, unknown="unknown option").reason == "unknown option"
    err = _error({"low": 3, "high": 2}, root="study file")
    assert err.field == "study file" and err.reason == "low must not exceed high"  # no "Value error, "
    assert _error({"low": 3, "high": 2}, prefix="base").field == "base"
    assert _error({"high": "x"}, names={"high": "--high"}).field == "--high"


def test_the_callers_share_it() -> None:
    from genoffload.rl.options import env_options

    with pytest.raises(InputError, match=r"^config\.sitez: unknown key"):
        make_config({"sitez": 7})
    with pytest.raises(InputError, match=r"^env\.speed: unknown option"):
        env_options({"speed": 1})
