"""Asynchronous coarse search: refits every few finished pairs, budget-aware defaults, resume."""

from __future__ import annotations

import json

import pytest
import yaml
from test_coarse import TINY_PREDICTOR, toy_space, toy_table

from jointnas.data import read_table
from jointnas.errors import ConfigError
from jointnas.search.cli import main as search_main
from jointnas.search.coarse import CoarseSearch
from jointnas.search.schedule import ASYNC, BATCH, budget_rule
from jointnas.search.settings import SearchSettings, load_settings
from jointnas.search.study import RunStore


@pytest.fixture
def toy(tmp_path):
    space = toy_space()
    space.to_yaml(tmp_path / "toy.yaml")
    toy_table(space).to_csv(tmp_path / "toy.csv", index=False)
    config = {
        "space": "toy.yaml",
        "name": "toy",
        "runs_dir": "runs",
        "budget_trials": 20,
        "start": 8,
        "refit_every": 4,
        "evaluator": {"type": "table", "table": "toy.csv"},
        "predictor": TINY_PREDICTOR,
        "pretrain_targets": ["params"],
    }
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(config))
    return tmp_path, space


def stored_plans(folder, name="toy"):
    """Each refit's summary with its ranking of the pool (``pool``)."""
    store = RunStore(f"sqlite:///{folder / 'runs' / name / 'study.db'}", name)
    return [{**p, "pool": store.meta(f"plan_{k}")} for k, p in enumerate(store.meta("plans"), 1)]


def test_async_run_refits_after_every_few_finished_pairs(toy):
    folder, space = toy
    result = CoarseSearch(load_settings(folder / "search.yaml"), progress=False).run()
    samples = read_table(folder / "runs" / "toy" / "samples.csv")
    assert len(samples) == 20 and not samples.duplicated(subset=list(space.names)).any()
    plans = stored_plans(folder)
    # the start set (8), then one fit per 4 finished pairs: after 8, 12, 16 results
    assert [p["after"] for p in plans] == [8, 12, 16] and result.refits == 3
    assert samples["iteration"].value_counts().sort_index().tolist() == [8, 4, 4, 4]
    for k, p in enumerate(plans, start=2):  # each round's pairs are its fit's first choices
        rows = samples[samples["iteration"] == k]
        assert sorted(rows["pool_index"]) == sorted(p["pool"][:4])
        assert len(p["pool"]) == 20 - p["after"] + 2  # the rest of the budget, ranked
    stop = json.loads((folder / "runs" / "toy" / "early_stop.json").read_text())
    later = samples[samples["iteration"] > 1]
    assert (later["max_epochs"] == stop["epoch"]).all()
    assert result.best is not None and result.fit_seconds > 0


def test_a_resumed_async_run_chooses_the_pairs_of_an_uninterrupted_one(toy, tmp_path):
    folder, space = toy
    whole = CoarseSearch(load_settings(folder / "search.yaml", name="whole", seed=3), progress=False)
    whole.run()
    calls = {"n": 0}
    cut = CoarseSearch(load_settings(folder / "search.yaml", name="cut", seed=3), progress=False)
    evaluate = cut.evaluator.evaluate

    def interrupted(config, **kwargs):
        calls["n"] += 1
        if calls["n"] == 14:  # mid-run, between two refits
            raise KeyboardInterrupt
        return evaluate(config, **kwargs)

    cut.evaluator.evaluate = interrupted
    with pytest.raises(KeyboardInterrupt):
        cut.run()
    assert len(stored_plans(folder, "cut")) == 2
    CoarseSearch(load_settings(folder / "search.yaml", name="cut", seed=3), progress=False).run()
    a = read_table(folder / "runs" / "whole" / "samples.csv")
    b = read_table(folder / "runs" / "cut" / "samples.csv")
    keys = ["iteration", "pool_index"]
    assert a[keys].values.tolist() == b[keys].values.tolist()
    assert [p["pool"] for p in stored_plans(folder, "whole")] == [
        p["pool"] for p in stored_plans(folder, "cut")
    ]


def test_batch_keys_choose_the_papers_rounds(toy):
    folder, _ = toy
    settings = SearchSettings(space=str(folder / "toy.yaml"), batch=6)
    assert settings.schedule.mode == BATCH
    assert (settings.schedule.refit_every, settings.schedule.iterations) == (6, 4)
    assert SearchSettings(space="s.yaml").schedule.mode == ASYNC


@pytest.mark.parametrize("budget", [30, 50, 100, 200, 500, 2000])
def test_budget_rule_gives_a_start_set_and_refits_inside_the_budget(budget):
    rule = budget_rule(budget)
    assert 8 <= rule["start"] <= min(48, budget)
    assert 2 <= rule["refit_every"] <= budget // 10
    assert (budget - rule["start"]) / rule["refit_every"] >= 10  # refits, not one batch
    schedule = SearchSettings(space="s.yaml", budget_trials=budget).schedule
    assert (schedule.start, schedule.refit_every, schedule.pool) == (
        rule["start"],
        rule["refit_every"],
        rule["pool"],
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--refit-every", "30"], "refit_every=30 is larger than the budget of 20 pairs"),
        (["--start", "21"], "start=21 is larger than the budget of 20 pairs"),
        (["--batch", "4"], "batch choose the batch mode"),
        (["--budget", "6"], "start=8 is larger than the budget of 6 pairs"),
    ],
)
def test_bad_schedules_exit_2_with_one_line(toy, capsys, flags, message):
    folder, _ = toy
    assert search_main(["coarse", "--config", str(folder / "search.yaml"), "--quiet", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (folder / "runs" / "toy").exists()  # nothing written


def test_iterations_with_an_async_key_in_the_config_is_refused(toy):
    folder, _ = toy
    with pytest.raises(ConfigError, match="refit_every=0 must be a positive integer"):
        load_settings(folder / "search.yaml", refit_every=0)
    with pytest.raises(ConfigError, match="iterations choose the batch mode"):
        load_settings(folder / "search.yaml", iterations=2)


def test_async_run_with_local_workers_fits_in_the_background(toy):
    folder, space = toy
    settings = load_settings(
        folder / "search.yaml",
        workers=2,
        budget_trials=16,
        evaluator={"type": "table", "table": str(folder / "toy.csv"), "sleep": 0.2},
    )
    result = CoarseSearch(settings, progress=False).run()
    samples = read_table(folder / "runs" / "toy" / "samples.csv")
    assert len(samples) == 16 and not samples.duplicated(subset=list(space.names)).any()
    start = samples[samples["iteration"] == 1]
    # the start set of 8, and at most min(8, 16 // 4) space-filling pairs while the first fit ran
    assert 8 <= len(start) <= 12 and sorted(samples["iteration"].unique())[0] == 1
    store = RunStore(settings.storage_url, "toy")
    extra = [t for t in store.trials() if t.user_attrs.get("iteration") == 1][8:]
    stop = store.meta("early_stop")
    assert all(t.user_attrs["max_epochs"] == (stop and stop["epoch"]) for t in extra)
    assert store.meta("pretrain_seconds") > 0  # pretrained while the start set trained
    assert result.refits == len(store.meta("plans")) >= 1
