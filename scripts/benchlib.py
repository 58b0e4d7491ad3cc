"""What the benchmark scripts share: the best wall time of a few runs."""
import time


def best_of(fn, repeat=3):
    """The shortest of `repeat` timed calls of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
