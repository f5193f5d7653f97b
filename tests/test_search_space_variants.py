"""Tests for bench/search_space_variants.py."""

import importlib.util
from pathlib import Path

import numpy as np
import yaml

from train_models import make_model

BENCH = Path(__file__).resolve().parents[1] / "bench"
spec = importlib.util.spec_from_file_location(
    "search_space_variants", BENCH / "search_space_variants.py"
)
search_space_variants = importlib.util.module_from_spec(spec)
spec.loader.exec_module(search_space_variants)


def test_a_variant_changes_lightgbm_only_and_leaves_the_config_alone():
    models = {"lightgbm": {"num_leaves": [7, 15], "reg_lambda": [0.0]}, "logistic_regression": {}}
    changed = search_space_variants.variant_models(models, {"num_leaves": [3], "subsample": [0.5]})
    assert changed["lightgbm"] == {"num_leaves": [3], "reg_lambda": [0.0], "subsample": [0.5]}
    assert changed["logistic_regression"] == {}
    assert models["lightgbm"] == {"num_leaves": [7, 15], "reg_lambda": [0.0]}


def test_every_recorded_variant_is_a_valid_lightgbm_space():
    variants = yaml.safe_load((BENCH / "lightgbm_variants.yaml").read_text(encoding="utf-8"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] > 0.5).astype(int)
    for name, space in variants.items():
        params = {key: values[0] for key, values in space.items()}
        scores = make_model("lightgbm", {**params, "n_estimators": 5}, 0, 1).fit(X, y)
        assert scores.predict_proba(X).shape == (120, 2), name
