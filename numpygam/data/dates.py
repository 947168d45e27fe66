"""Human-written dates -> ISO dates, generated offline from a seed.

    "3 may 1979", "tuesday, march 5, 1991", "5/3/79", "03.05.1979" -> "1979-05-03"

Inputs are lower case.  Dates lie in 1950-2049, so two-digit years are
unambiguous (50-99 -> 19xx, 00-49 -> 20xx); slashes are month/day/year (US)
and dots day.month.year (European), so every format reads one way.
"""
import datetime

import numpy as np

from .vocab import Vocab

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
FIRST, LAST = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)


def _formats(d):
    month, mon, day, wd = MONTHS[d.month - 1], MONTHS[d.month - 1][:3], DAYS[d.weekday()], \
        DAYS[d.weekday()][:3]
    yy = f"{d.year % 100:02d}"
    return [
        f"{d.day} {month} {d.year}", f"{d.day:02d} {month} {d.year}", f"{d.day} {mon} {d.year}",
        f"{month} {d.day}, {d.year}", f"{mon} {d.day}, {d.year}", f"{month} {d.day} {d.year}",
        f"{day}, {month} {d.day}, {d.year}", f"{wd}, {d.day} {mon} {d.year}",
        f"{wd} {mon} {d.day} {d.year}", f"{day} {d.day} {month} {d.year}",
        f"{d.month}/{d.day}/{yy}", f"{d.month:02d}/{d.day:02d}/{d.year}",
        f"{d.day}.{d.month}.{d.year}", f"{d.day:02d}.{d.month:02d}.{d.year}",
        f"{d.year}-{d.month:02d}-{d.day:02d}", f"{d.day} {mon} {yy}",
        f"the {d.day} of {month} {d.year}", f"{month} {d.year}, {d.day}",
    ]


NUM_FORMATS = len(_formats(FIRST))


def random_pairs(n, seed):
    """n (human date, ISO date) pairs; the same seed gives the same pairs."""
    rng = np.random.default_rng(seed)
    span = (LAST - FIRST).days + 1
    pairs = []
    for offset, fmt in zip(rng.integers(0, span, n), rng.integers(0, NUM_FORMATS, n)):
        d = FIRST + datetime.timedelta(days=int(offset))
        pairs.append((_formats(d)[fmt], d.isoformat()))
    return pairs


def date_task(train_size=40000, heldout_size=1000, seed=0):
    """(train pairs, held-out pairs, source vocab, target vocab).

    The held-out set is fixed (its own seed, whatever `seed` is) and no
    held-out input appears in the training pairs.
    """
    heldout = random_pairs(heldout_size, seed=10_000)
    held_inputs = {s for s, _ in heldout}
    train = [p for p in random_pairs(train_size, seed) if p[0] not in held_inputs]
    chars = "".join(c for f in _formats(datetime.date(2000, 1, 1)) for c in f) + \
        "".join(MONTHS) + "".join(DAYS) + "0123456789 ,./-"
    return train, heldout, Vocab(chars), Vocab("0123456789-")
