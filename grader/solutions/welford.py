# A reference solution, for the hiring team: what a strong answer can look like (one of many).
# The grader never compares against it; tests/grader/test_solutions.py checks that it is accepted.


def welford_merge(a, b):
    na, ma, m2a = a
    nb, mb, m2b = b
    n = na + nb
    if n == 0:
        return a
    delta = mb - ma
    return n, ma + delta * nb / n, m2a + m2b + delta**2 * na * nb / n


def welford_update(state, x):
    if len(x) == 0:
        return state
    m = x.mean(axis=0)
    return welford_merge(state, (len(x), m, ((x - m) ** 2).sum(axis=0)))


def welford_finalize(state):
    n, mean, m2 = state
    return mean, m2 / n, m2 / (n - 1)
