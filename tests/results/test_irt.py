"""The item response model recovers what was planted: responses simulated from known 2PL items and
abilities, fitted, land within their standard errors; the misbehaving items are flagged."""

from __future__ import annotations

import numpy as np

from app.results.irt import ItemParameters, calibrate, dichotomous

A = np.array([0.8, 1.0, 1.2, 1.5, 1.8, 0.9, 1.3, 2.0, 1.1, 0.7])
B = np.array([-1.5, -1.0, -0.5, 0.0, 0.3, 0.6, 1.0, -0.2, 1.4, 0.1])


def simulated(persons: int, a: np.ndarray, b: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, persons)
    p = 1 / (1 + np.exp(-a * (theta[:, None] - b)))
    return (rng.random((persons, len(a))) < p).astype(float), theta


def test_planted_item_parameters_are_recovered_within_their_uncertainty() -> None:
    responses, _ = simulated(600, A, B, seed=3)
    fit = calibrate(responses)
    assert fit.converged and not fit.left_out
    a_z = [(fit.items[j].discrimination - A[j]) / fit.items[j].discrimination_se for j in range(len(A))]
    b_z = [(fit.items[j].difficulty - B[j]) / fit.items[j].difficulty_se for j in range(len(B))]
    # Within two standard errors, as 95 % of estimates should be: at most one of ten outside.
    assert sum(abs(z) > 2 for z in a_z) <= 1, a_z
    assert sum(abs(z) > 2 for z in b_z) <= 1, b_z
    assert all(abs(z) < 3.5 for z in a_z + b_z)


def test_abilities_follow_the_planted_ones_with_honest_errors() -> None:
    responses, theta = simulated(600, A, B, seed=5)
    fit = calibrate(responses)
    estimates = np.array([x.theta for x in fit.abilities])
    errors = np.array([x.se for x in fit.abilities])
    assert np.corrcoef(estimates, theta)[0, 1] > 0.8
    # EAP errors are posterior spreads: about 95 % of true abilities within two of them.
    assert np.mean(np.abs(estimates - theta) <= 2 * errors) > 0.9


def test_an_item_keyed_wrong_shows_negative_discrimination_and_no_information_items_are_left_out() -> None:
    a = A.copy()
    a[4] = -1.5  # stronger candidates get it wrong: the key is the wrong option
    responses, _ = simulated(500, a, B, seed=11)
    responses[:, 9] = 1.0  # everyone right: tells nobody apart
    responses[:50, 2] = np.nan  # not shown to some candidates: missing, not wrong
    fit = calibrate(responses)
    assert fit.left_out == [9]
    assert any("negative discrimination" in flag for flag in fit.items[4].flags)
    assert not any("negative" in flag for j, item in fit.items.items() if j != 4 for flag in item.flags)


def test_partial_credit_counts_as_right_from_half_the_points() -> None:
    assert np.array_equal(
        dichotomous([[1.0, 0.5, 0.49, None]]), np.array([[1.0, 1.0, 0.0, np.nan]]), equal_nan=True
    )


def test_the_curve_is_even_odds_at_the_difficulty() -> None:
    item = ItemParameters(0, 1.7, 0.2, 0.4, 0.1, 0.5)
    assert item.probability(np.array([0.4]))[0] == 0.5
    assert item.probability(np.array([2.0]))[0] > 0.9


def test_answers_that_tell_nobody_apart_give_no_model_and_say_why() -> None:
    everyone_right = np.ones((40, 5))
    fit = calibrate(everyone_right)
    assert not fit.abilities and fit.left_out == [0, 1, 2, 3, 4]
