"""Issue 12, item 1: an agent file never runs code when loaded.

Two crafted files carry a pickle payload that creates a marker file when unpickled:

- stable-baselines3's own zip (``model.save``, what genoffload wrote before format 2) whose
  ``data`` member holds a ``:serialized:`` cloudpickle object: ``DQN.load`` runs it (checked
  first, so the payload is real);
- a format-2 file whose ``policy.pt`` is a torch file of a malicious object instead of tensors.

Both are refused with one line on every path that loads an agent (``load_agent``, ``rl eval
--agent``, ``evaluate --policy dqn --agent``, a study's ``agent =``) and the marker never appears.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytest.importorskip("stable_baselines3", reason="needs the drl extra: pip install -e '.[drl]'")

from genoffload.cli.app import app
from genoffload.errors import InputError
from genoffload.rl import load_agent, train_dqn
from genoffload.scenario import generate, make_config, save

pytestmark = pytest.mark.drl
runner = CliRunner()


class Payload:
    """Unpickling this touches ``marker``: the stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return train_dqn(make_config({}), 12, seed=3, hyperparameters={"learning_starts": 10}).agent


def _sb3_zip_with_payload(agent: Any, path: Path, marker: Path) -> Path:
    """sb3's own file plus genoffload.json (format 1), its ``data`` carrying the payload."""
    buf = io.BytesIO()
    agent.model.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    data = json.loads(members["data"])
    data["policy_class"][":serialized:"] = base64.b64encode(pickle.dumps(Payload(marker))).decode()
    members["data"] = json.dumps(data).encode()
    meta = {"format": "genoffload-dqn", "version": 1, "algo": "dqn",
            "observation": agent.spec.to_dict()}
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
        zf.writestr("genoffload.json", json.dumps(meta))
    return path


def _v2_with_pickled_weights(agent: Any, path: Path, marker: Path) -> Path:
    import torch

    good = agent.save(path.with_name("good.zip"))
    weights = io.BytesIO()
    torch.save({"q_net.q_net.0.weight": Payload(marker)}, weights)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        dst.writestr("genoffload.json", src.read("genoffload.json"))
        dst.writestr("policy.pt", weights.getvalue())
    return path


def test_sb3_pickle_payload_is_real_and_refused(trained: Any, tmp_path: Path) -> None:
    from stable_baselines3 import DQN

    marker = tmp_path / "pwned"
    bad = _sb3_zip_with_payload(trained, tmp_path / "old.zip", marker)
    with pytest.raises(Exception):  # noqa: B017 (sb3 fails after running the payload)
        DQN.load(bad, device="cpu")
    assert marker.exists(), "the crafted payload must run under sb3's own loader"
    marker.unlink()
    with pytest.raises(InputError, match=r"^agent: .*would unpickle, i\.e\. run code from the file"):
        load_agent(bad)
    assert not marker.exists()


def test_pickled_weights_refused(trained: Any, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bad = _v2_with_pickled_weights(trained, tmp_path / "v2.zip", marker)
    with pytest.raises(InputError, match=r"^agent: corrupt dqn agent file \(policy\.pt: "):
        load_agent(bad)
    assert not marker.exists()


def _one_line(res: Any, needle: str) -> None:
    lines = res.output.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and needle in lines[0], res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("kind", ["sb3", "weights"])
def test_every_cli_path_refuses(trained: Any, tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "pwned"
    make = _sb3_zip_with_payload if kind == "sb3" else _v2_with_pickled_weights
    bad = make(trained, tmp_path / "bad.zip", marker)
    scen = save(generate(make_config({"seed": 1})), tmp_path / "s.nc")
    _one_line(runner.invoke(app, ["rl", "eval", "--agent", str(bad), "--steps", "2"]), "agent:")
    _one_line(runner.invoke(app, ["evaluate", str(scen), "--policy", "dqn", "--agent", str(bad)]), "agent:")
    study = tmp_path / "st.toml"
    study.write_text(f'[study]\nname = "x"\nsteps = 2\n[[policy]]\nname = "dqn"\nagent = "{bad}"\n')
    _one_line(runner.invoke(app, ["study", "check", str(study)]), "policy[0].agent:")
    res = runner.invoke(app, ["study", "run", str(study), "-o", str(tmp_path / "run")])
    _one_line(res, "policy[0].agent:")
    assert not marker.exists()
    assert not (tmp_path / "run").exists()
