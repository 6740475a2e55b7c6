"""The architecture contract (docs/architecture.md): imports point down the layers, every module has a
layer, and the contract itself cannot silently disappear."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pixelar"
# Top to bottom, as docs/architecture.md draws it; "a | b" are independent layers of one level.
LAYERS = ["cli", "commands", "quickstart | convert", "registry", "presets | pretrained", "training", "evaluation",
          "codec", "sampling", "models", "checkpoint", "distributions | data", "imageio | nn",
          "config | parallel | progress", "errors | version"]


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config.get("tool", {}).get("importlinter", {}).get("contracts", [])
    layered = [c for c in contracts if c.get("type") == "layers"]
    assert layered, "pyproject.toml lost its [tool.importlinter] layers contract (docs/architecture.md)"
    return layered[0]


def test_the_contract_is_the_documented_layering():
    layers = [" | ".join(part.strip().removeprefix("pixelar.") for part in layer.split("|"))
              for layer in _contract()["layers"]]
    assert layers == LAYERS


def test_every_module_has_a_layer():
    placed = {name.strip() for layer in LAYERS for name in layer.split("|")}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert sorted((modules | packages) - placed) == [], "place the new module in a layer (pyproject + docs)"


def test_imports_point_down():
    importlinter_cli = pytest.importorskip("importlinter.cli", reason="pip install import-linter (in .[test])")
    assert importlinter_cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True,
                                         no_logo=True) == 0, "an import points up a layer: see the report above"
