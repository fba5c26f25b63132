"""Run configurations: YAML + dotted overrides, validated with errors that name the key."""

from pathlib import Path

import pytest

from sciml.app import ConfigError, load_config, load_simulation_config, parse_overrides
from sciml.operators import MODELS, build_model
from sciml.train import model_spec

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("seed: 3\nmodel: {name: fno, n_modes: [8, 8], hidden_channels: 24}\n"
                    "optimizer: {name: adamw, lr: 1e-2}\ntrainer: {max_epochs: 15}\n")
    cfg = load_config(path, ["optimizer.lr=3e-4", "trainer.batch_size=8", "model.n_layers=2",
                             "data.test={res16: a.pt}"])
    assert cfg.seed == 3 and cfg.optimizer.name == "adamw" and cfg.optimizer.lr == 3e-4
    assert cfg.trainer.max_epochs == 15 and cfg.trainer.batch_size == 8
    assert cfg.model == {"name": "fno", "n_modes": [8, 8], "hidden_channels": 24, "n_layers": 2}
    assert cfg.data.test == {"res16": "a.pt"}
    # an override of a nested model key keeps the default model name
    assert load_config(None, ["model.hidden_channels=8"]).model == {"name": "fno", "hidden_channels": 8}


@pytest.mark.parametrize("override, message", [
    ("optimizer.lrr=1", "unknown key 'lrr' in optimizer; known: name, lr"),
    ("trainer.max_epochs=1.5", "trainer.max_epochs: expected int, got 1.5"),
    ("trainer.max_epochs=true", "trainer.max_epochs: expected int"),
    ("optimizer.lr=fast", "optimizer.lr: expected float"),
    ("data.test={a: 1}", "data.test.a: expected str"),
    ("nonsense=1", "unknown key 'nonsense'; known: seed, out_dir"),
    ("x", "must look like dotted.key=value"),
    ("a..b=1", "must look like dotted.key=value"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        load_config(None, [override])


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(bad)


def test_parse_overrides_values_are_yaml():
    assert parse_overrides(["a.b=1", "a.c=[1, 2]", "d=null", "e=1e-3"]) == \
        {"a": {"b": 1, "c": [1, 2]}, "d": None, "e": "1e-3"}


def test_shipped_configs_load():
    cfg = load_config(CONFIGS / "darcy16_fno.yaml")
    assert cfg.model["n_modes"] == [8, 8] and cfg.loss.args == {"periodic": True, "method": "fd"}
    sim = load_simulation_config(CONFIGS / "simulate_ns.yaml", ["stepper.kind=model", "stepper.checkpoint=a.pt"])
    assert sim.problem["solver_resolution"] == 256 and sim.initial.n == 4 and sim.stepper.checkpoint == "a.pt"


@pytest.mark.parametrize("override, message", [
    ("optimizer.name=adagrad", "optimizer.name: expected one of 'adam', 'adamw', 'sgd', got 'adagrad'"),
    ("metrics=[l2, l3]", "metrics[1]: expected one of 'l1', 'l2', 'h1', got 'l3'"),
    ("trainer.max_epoch=3", "unknown key 'max_epoch' in trainer; known: max_epochs"),
])
def test_choices_and_close_matches(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        load_config(None, [override])


def test_model_registry():
    model = build_model({"name": "fno", "n_modes": [8, 8], "hidden_channels": 24})
    assert model_spec(model)["kwargs"]["n_modes"] == [8, 8]  # the registry's models carry their spec
    small = {"fno": {"n_modes": [4, 4], "hidden_channels": 4}, "lsm": {"width": 8}, "mgno": {"channels": 4},
             "sfno": {"modes": [2, 2, 2], "width": 4, "n_layers": 1}}
    assert set(small) == set(MODELS)
    for name, kwargs in small.items():  # every registered constructor records under its registry name
        spec = model_spec(build_model({"name": name, **kwargs}))
        assert spec["name"] == name and spec["kwargs"].items() >= kwargs.items(), name
    # the configuration of neuraloperator's Darcy-16 example; the count pins its 2.0 architecture
    assert sum(p.numel() for p in model.parameters()) == 99721
    with pytest.raises(ValueError, match="unknown model 'nope'; known: fno"):
        build_model({"name": "nope"})
