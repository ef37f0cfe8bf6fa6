"""The dependency floors in pyproject.toml are the versions .ci/floors.txt pins (and CI tests)."""

from __future__ import annotations

import re
import tomllib

from conftest import REPO_ROOT


def _floors() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["test"]
    out = {}
    for spec in specs:
        name, floor = re.fullmatch(r"([A-Za-z0-9_.\-]+(?:\[[a-z]+\])?)>=([0-9.]+)", spec).groups()
        out[name.lower()] = floor
    return out


def _pins() -> dict[str, str]:
    out = {}
    for line in (REPO_ROOT / ".ci" / "floors.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            out[name.lower()] = version.rstrip(".*")
    return out


def test_every_floor_is_the_version_ci_tests():
    floors, pins = _floors(), _pins()
    assert set(floors) == set(pins)
    for name, floor in floors.items():
        assert pins[name] == floor or pins[name].startswith(floor + "."), (name, floor, pins[name])
    assert tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"] == ">=3.11"
