"""history.diagnose(): the course's "what to monitor" table read off crafted and real curves."""

import dataclasses
import math

import pytest

import nnfast as nf
from nnfast import diagnosis
from nnfast.diagnosis import Finding, diagnose

NAN = math.nan


def curves(loss, val=None, initial=2.0, stop="max_epochs"):
    history = nf.History("accuracy", max_epochs=len(loss), validation=val is not None)
    history.initial_loss = initial
    for i, cost in enumerate(loss):
        history.append(loss=cost, **({} if val is None else {"val_loss": val[i]}))
    history.stop_reason = stop
    return history


def kinds(history):
    return [f.kind for f in history.diagnose()]


# --- crafted curves: each kind --------------------------------------------------------------------

def test_falling_cost_that_settled_is_learning():
    findings = curves([1.5, 1.0, 0.7, 0.6, 0.59, 0.585, 0.584]).diagnose()
    assert [f.kind for f in findings] == ["learning"]
    assert findings[0].evidence == {"cost_before": 2.0, "last_cost": 0.584, "fall_share": pytest.approx(0.708),
                                    "epochs": 7}
    assert "keep going" in findings[0].advice


def test_flat_cost_is_stuck():
    # fell 0.55% of its starting value: under STUCK_FALL (1%)
    findings = curves([1.995, 1.99, 1.992, 1.989], val=[2.0, 2.0, 2.0, 2.0]).diagnose()
    assert [f.kind for f in findings] == ["stuck"]  # no gap read from a model that learnt nothing
    assert findings[0].evidence["fall_share"] == pytest.approx(0.0055)
    assert "larger learning rate" in findings[0].advice


def test_just_over_the_stuck_threshold_is_learning():
    assert kinds(curves([1.99, 1.985, 1.979, 1.979])) == ["learning"]  # fell 1.05%


def test_rising_cost_is_diverging():
    findings = curves([1.0, 0.6, 0.5, 0.7, 0.9, 1.2]).diagnose()
    assert [f.kind for f in findings] == ["diverging"]
    assert findings[0].evidence["lowest_epoch"] == 3 and findings[0].evidence["rise_share"] == pytest.approx(0.35)
    assert "reduce the learning rate" in findings[0].advice


def test_cost_ending_above_its_start_is_diverging():
    assert kinds(curves([1.5, 2.2, 2.1])) == ["diverging"]
    assert kinds(curves([2.01, 2.015, 2.01])) == ["stuck"]  # 0.5% above: noise, not a rise


@pytest.mark.parametrize("loss,val,key", [([1.0, NAN], None, "nonfinite_epoch"),
                                          ([1.0, math.inf], None, "nonfinite_epoch"),
                                          ([1.0, 0.8], [0.9, NAN], "nonfinite_val_epoch")])
def test_nonfinite_cost_is_diverging(loss, val, key):
    findings = curves(loss, val=val, stop="diverged").diagnose()
    assert [f.kind for f in findings] == ["diverging"] and findings[0].evidence[key] == 2


def test_stopped_as_diverged_is_diverging_even_with_finite_costs():
    assert kinds(curves([1.0, 0.8], stop="diverged")) == ["diverging"]


def test_up_and_down_cost_is_oscillating_not_diverging():
    # rises in 4 of 8 steps; ends 0.4 above its lowest, but the last steps go down and up
    findings = curves([1.5, 1.8, 1.2, 1.6, 1.1, 1.5, 1.0, 1.4]).diagnose()
    assert [f.kind for f in findings] == ["learning", "oscillating"]
    assert findings[1].evidence == {"rises": 4, "steps": 8, "rise_share": 0.5}


def test_wobbles_of_a_cost_near_zero_are_not_oscillation():
    # a memorised training set: the cost halves and doubles around 1e-9 (rmsprop on digits)
    loss = [0.46, 0.07, 0.02, 0.006, 0.0015] + [1e-9, 2e-9] * 6
    history = curves(loss, initial=2.76, stop="early_stopped")
    assert kinds(history) == ["learning"]
    tune = pytest.importorskip("nnfast.tune")  # verdict counts rises the same way
    assert tune.verdict(history) == "good"
    # the same ups and downs at the scale of the cost are oscillation, for both
    scaled = [0.46, 0.07, 0.02, 0.006, 0.0015] + [0.1, 0.2] * 6
    assert kinds(curves(scaled, initial=2.76, stop="early_stopped")) == ["learning", "oscillating"]
    assert tune.verdict(curves(scaled, initial=2.76, stop="early_stopped")) == "oscillating"


def test_one_bump_in_a_short_run_is_not_oscillation():
    assert kinds(curves([1.0, 1.2, 0.9])) == ["learning", "epoch_cap"]


def test_still_falling_at_the_epoch_cap():
    loss = [2.2, 1.6, 1.2, 1.0, 0.83, 0.72, 0.63]
    findings = curves(loss).diagnose()
    assert [f.kind for f in findings] == ["learning", "epoch_cap"]
    assert findings[1].evidence["fall_share"] == pytest.approx((1.0 - 0.63) / 2.0)
    assert "train longer" in findings[1].advice
    assert kinds(curves(loss, stop="early_stopped")) == ["learning"]  # not stopped by the cap


def test_epoch_cap_reads_the_validation_curve_when_there_is_one():
    loss = [1.0, 0.5, 0.3, 0.2, 0.15, 0.1]
    assert "epoch_cap" in kinds(curves(loss))
    # the training cost still falls, the validation cost has settled: more epochs will not help
    assert "epoch_cap" not in kinds(curves(loss, val=[1.0, 0.6, 0.43, 0.42, 0.42, 0.415]))


def test_small_gap_is_generalising():
    findings = curves([1.0, 0.6, 0.42, 0.415, 0.412, 0.41], val=[1.05, 0.66, 0.47, 0.465, 0.462, 0.46]).diagnose()
    assert [f.kind for f in findings] == ["learning", "generalising"]
    assert findings[1].evidence["gap_share"] == pytest.approx(0.025)


def test_large_gap_is_overfitting():
    findings = curves([1.0, 0.2, 0.05, 0.02, 0.01, 0.01], val=[1.1, 0.7, 0.6, 0.6, 0.6, 0.6]).diagnose()
    assert findings[-1].kind == "overfitting"
    assert findings[-1].evidence["gap_share"] == pytest.approx((0.6 - 0.04 / 3) / 2.0)
    assert "regularisation" in findings[-1].advice and "more data" in findings[-1].advice


def test_growing_gap_is_overfitting_though_still_small():
    # the validation cost rose 37% above its best stretch (epochs 3-5) while the training cost kept falling
    loss = [1.0, 0.5, 0.3, 0.25, 0.23, 0.22, 0.21, 0.2, 0.19]
    findings = curves(loss, val=[1.0, 0.5, 0.3, 0.25, 0.26, 0.3, 0.34, 0.37, 0.4]).diagnose()
    assert findings[-1].kind == "overfitting"
    assert findings[-1].evidence["gap_share"] < diagnosis.GAP_LARGE
    assert findings[-1].evidence["best_val_from_epoch"] == 3
    assert findings[-1].evidence["val_rise_share"] == pytest.approx((0.37 - 0.27) / 0.27)
    # a validation cost that wanders by a few percent around its best is noise
    assert kinds(curves(loss, val=[1.0, 0.5, 0.3, 0.25, 0.26, 0.255, 0.258, 0.25, 0.26]))[-1] == "generalising"


def test_one_lucky_validation_epoch_is_not_the_best_to_rise_from():
    # a settled validation cost with one epoch 12% below the rest (rmsprop on digits does this)
    val = [0.23, 0.11, 0.081, 0.061, 0.048, 0.046, 0.045, 0.045, 0.044, 0.039, 0.043, 0.045, 0.044, 0.042]
    loss = [0.5 * 0.5 ** i for i in range(len(val))]
    findings = curves(loss, val=val, initial=2.7).diagnose()
    assert findings[-1].kind == "generalising"
    # the same curve rising after its best stretch
    rising = val[:9] + [0.05, 0.053, 0.055, 0.057, 0.06]
    assert curves(loss, val=rising, initial=2.7).diagnose()[-1].kind == "overfitting"


# --- edge cases ------------------------------------------------------------------------------------

def test_no_epochs_no_findings():
    assert curves([]).diagnose() == []
    assert diagnose({"traceback": "..."}) == []  # a failed trial's record: no curve


@pytest.mark.parametrize("bad", [None, [1.0, 0.5], "loss"])
def test_curves_of_another_type_are_refused(bad):
    with pytest.raises(TypeError, match="curves must be a History or a mapping"):
        diagnose(bad)


def test_one_epoch():
    assert kinds(curves([1.2])) == ["learning", "epoch_cap"]  # fell from 2.0: a trend of one step
    assert kinds(curves([1.2], val=[1.25])) == ["learning", "epoch_cap", "generalising"]
    assert kinds(curves([1.99], val=[2.0])) == ["stuck"]
    # without the cost before training there is no trend to read; the gap still is one
    assert diagnose({"loss": [1.2]}) == []
    assert [f.kind for f in diagnose({"loss": [0.1], "val_loss": [0.9], "initial_loss": None})] == ["overfitting"]


def test_unknown_cost_before_training_falls_back_on_the_first_epoch():
    assert kinds(curves([2.0, 1.5, 1.1, 1.095, 1.09, 1.085], initial=NAN)) == ["learning"]


def test_zero_cost_throughout():
    assert kinds(curves([0.0, 0.0], initial=0.0)) == ["stuck"]


def test_stored_curves_read_as_the_history():
    history = curves([1.0, 0.2, 0.05, 0.02, 0.01, 0.01], val=[1.1, 0.7, 0.6, 0.6, 0.6, 0.6])
    assert diagnose(history.to_dict()) == history.diagnose()


def test_finding_is_a_frozen_record_that_prints_its_numbers():
    finding = curves([1.0, NAN], stop="diverged").diagnose()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.kind = "learning"
    text = str(finding)
    assert text.startswith("diverging: ") and "nonfinite_epoch 2" in text and finding.advice in text
    assert set(diagnosis.KINDS) == {"learning", "stuck", "diverging", "oscillating", "generalising", "overfitting",
                                    "epoch_cap", "time_cap"}
    assert isinstance(finding, Finding)


# --- real runs -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    X, y = nf.data.load_digits()
    return nf.data.train_test_split(X, y, test_size=0.2, seed=0)


@pytest.mark.parametrize("lr,expected,absent", [(1e-5, "stuck", {"learning", "diverging"}),
                                                (1e-2, "learning", {"stuck", "diverging", "overfitting"}),
                                                (10.0, "diverging", {"learning", "stuck"})])
def test_sgd_on_digits_at_three_learning_rates(digits, lr, expected, absent):
    X_tr, X_val, y_tr, y_val = digits
    hp = nf.Hyperparameters(optimizer="sgd", lr=lr, epochs=10, standardize=True)
    if lr >= 10:
        with pytest.warns(nf.DivergenceWarning):
            _, history = nf.train(hp, X_tr, y_tr, validation=(X_val, y_val), verbose=False)
    else:
        _, history = nf.train(hp, X_tr, y_tr, validation=(X_val, y_val), verbose=False)
    found = kinds(history)
    assert found[0] == expected and not absent & set(found)
    if lr == 1e-2:  # still falling fast after 10 epochs, and the validation cost with it
        assert found == ["learning", "epoch_cap", "generalising"]


def test_the_docstring_examples_run():
    import doctest

    result = doctest.testmod(diagnosis)
    assert result.attempted >= 6 and result.failed == 0
