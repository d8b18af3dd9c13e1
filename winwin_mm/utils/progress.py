"""Progress and time-left estimates for the long tools (benchmark, ablation)
whose work items differ in cost: each item's cost is known in advance in
some unit (GFLOPs, tokens x iterations) and the rate comes from the items
already done."""
import datetime
from typing import Sequence


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (what mmengine's logger prints as ``eta``)."""
    return str(datetime.timedelta(seconds=int(round(max(seconds, 0.)))))


def format_eta(seconds: float) -> str:
    """:func:`format_duration`, or ``unknown`` for ``nan`` (nothing done
    yet to estimate from)."""
    return 'unknown' if seconds != seconds else format_duration(seconds)


def estimate_remaining(done_costs: Sequence[float],
                       done_seconds: Sequence[float],
                       remaining_costs: Sequence[float]) -> float:
    """Seconds left: the remaining cost at the rate (seconds per unit of
    cost) measured on the finished items; 0 when nothing is left, ``nan``
    when nothing is done yet."""
    if not remaining_costs:
        return 0.
    total_done = float(sum(done_costs))
    if total_done <= 0:
        return float('nan')
    return float(sum(done_seconds)) / total_done * float(sum(remaining_costs))


def progress_line(k: int, n: int, name: str, elapsed_s: float,
                  eta_s: float) -> str:
    """``[k/n] name done, elapsed 0:01:02, eta 0:03:04``."""
    return (f'[{k}/{n}] {name} done, elapsed {format_duration(elapsed_s)}, '
            f'eta {format_eta(eta_s)}')
