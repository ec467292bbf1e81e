"""The peer (mlforecast + LightGBM) as the daily and hourly benchmarks tune and run it: the
search space both engines share, one origin's features built once for many models, and the
Optuna study over the tuning origins (the same sampler, pruner and trial count as
`freshcast tune`, and a first trial of its own defaults as freshcast's is of its)."""

from __future__ import annotations

import sys
from pathlib import Path

from common import COVARIATES, PEER_THREADS, STATIC, Stages, write_json


def shared_space() -> dict:
    """freshcast's tuning space restricted to the LightGBM parameters both engines have:
    {name: (kind, args, kwargs)} as `freshcast.forecast.tune.suggest` asks for them."""
    from freshcast.forecast.tune import suggest

    calls = {}

    class Recorder:  # answers every question with its first choice and notes the question
        def __getattr__(self, method):
            kind = method.removeprefix("suggest_")

            def ask(name, *a, **k):
                calls[name] = (kind, a, k)
                return a[0][0] if kind == "categorical" else a[0]

            return ask

    suggest(Recorder())
    shared = ("learning_rate", "n_estimators", "num_leaves", "min_child_samples", "reg_lambda", "max_bin",
              "objective", "feature_fraction")  # fmt: skip
    return {name: calls[name] for name in shared}


# The peer's first trial, as freshcast's is its defaults: LightGBM's own defaults where the
# shared space holds them (100 trees at 0.1, 31 leaves, 20 rows a leaf, 255 bins, every
# feature), its least L2 (LightGBM's default is none) and tweedie (LightGBM's l2 is not in
# the space; freshcast's default objective)
PEER_FIRST = {"learning_rate": 0.1, "n_estimators": 100, "num_leaves": 31, "min_child_samples": 20, "reg_lambda": 0.1,
              "max_bin": 255, "objective": "tweedie", "feature_fraction": 1.0}  # fmt: skip


def peer_suggest(trial, space: dict) -> dict:
    """One trial's LGBMRegressor keyword arguments."""
    params = {name: getattr(trial, f"suggest_{kind}")(name, *a, **k) for name, (kind, a, k) in space.items()}
    params["colsample_bytree"] = params.pop("feature_fraction")
    return params


class PeerOrigin:
    """mlforecast at one origin: `fcst` (an MLForecast without models) builds the features of
    the rows up to `end` (the last training timestamp) once; `forecast` trains a model on them
    and forecasts the `steps` timestamps after `end`, one `step` (a Timedelta) apart."""

    def __init__(self, df, fcst, end, steps: int, step, stages: Stages | None = None):
        self.fcst, self.steps, self.stages = fcst, steps, stages or Stages()
        self.train = df[df.ds <= end]
        future = df[(df.ds > end) & (df.ds <= end + steps * step)]
        self.x_future = future[["unique_id", "ds", *COVARIATES]]
        self.actual = future[["unique_id", "ds", "y"]]
        with self.stages.stage("features"):
            prep = fcst.preprocess(self.train, static_features=STATIC)
            self.y = prep["y"].to_numpy()
            self.X = prep.drop(columns=["unique_id", "ds", "y"])
            del prep

    def forecast(self, params: dict, name: str = "yhat"):
        """Rows `unique_id, ds, <name>` of the steps after the origin by LGBMRegressor(**params)."""
        import lightgbm as lgb

        self.fcst.models = {name: lgb.LGBMRegressor(random_state=0, verbosity=-1, n_jobs=PEER_THREADS, **params)}
        with self.stages.stage(f"train_{name}"):
            self.fcst.fit_models(self.X, self.y)
        with self.stages.stage(f"predict_{name}"):
            return self.fcst.predict(self.steps, X_df=self.x_future)

    def wape(self, pred, name: str = "yhat") -> float:
        from freshcast.forecast.metrics import wape

        both = self.actual.merge(pred, on=["unique_id", "ds"], how="left", validate="one_to_one")
        return wape(both["y"].to_numpy(), both[name].to_numpy())


def tune_peer(work: Path, seed: int, trials: int, origins: list[str], at_origin) -> dict:
    """The peer's Optuna study over `origins` (at_origin(origin) -> PeerOrigin, built once per
    origin), kept in work/study.db so that it resumes; writes work/trials.csv and
    work/best_params.json and returns the best trial."""
    import optuna
    import pandas as pd
    from freshcast.forecast.tune import finished_count, next_trial, open_study, scored_trial, trial_line

    space = shared_space()
    work.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(f"sqlite:///{work / 'study.db'}", "peer", seed, first=PEER_FIRST)
    at = {}

    def scores(params):
        for origin in origins:
            if origin not in at:
                at[origin] = at_origin(origin)
            yield at[origin].wape(at[origin].forecast(params))

    def objective(trial):
        return scored_trial(trial, scores(peer_suggest(trial, space)), origins)

    def after(study, trial):
        print(f"  peer {trial_line(study, trial)}", file=sys.stderr, flush=True)

    while finished_count(study) < trials:
        next_trial(study, objective, seed, [after])
    complete = optuna.trial.TrialState.COMPLETE
    rows = [{"trial": t.number + 1, "state": t.state.name.lower(), "wape": t.value if t.state == complete else None,
             **{k: v for k, v in t.user_attrs.items()}, **t.params} for t in study.get_trials(deepcopy=False)]  # fmt: skip
    pd.DataFrame(rows).to_csv(work / "trials.csv", index=False)
    best = {"wape": study.best_value, "trial": study.best_trial.number + 1,
            "params": peer_suggest(optuna.trial.FixedTrial(study.best_trial.params), space)}  # fmt: skip
    write_json(work / "best_params.json", best)
    return best
