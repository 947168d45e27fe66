"""Human-written dates -> ISO dates, generated offline from a seed.

    "3 may 1979", "tuesday, march 5th, 1991", "5/3/79", "03.05.1979" -> "1979-05-03"
    "1979年5月3日", "1979年05月03日", "1979年5月3日星期四" -> "1979-05-03"

Each input form is a template in FORMATS, named by the fields it uses:

    {d} 3    {dd} 03    {dth} 3rd    {m} 5    {mm} 05    {month} may    {mon} may
    {weekday} thursday    {wd} thu    {yyyy} 1979    {yy} 79
    {zhweekday} 星期四    {zhwd} 周四    (Sunday: 星期日 and 周日)

Inputs are lower case (`translate` lower-cases what users type).  Dates lie
in 1900-2099.  A two-digit year is read 50-99 -> 19xx, 00-49 -> 20xx, so the
forms with {yy} are only drawn for dates in 1950-2049, where that reading
is right.  Slashes are month/day/year (US) and dots day.month.year
(European), so every input reads one way.  The Chinese forms (the blog's readers
write dates so) are year, month, day, each followed by its character, 年 月 日 (or 号),
with the weekday after them or not.

A checkpoint trained before the Chinese forms existed has a source vocabulary 13
characters smaller: `train --resume` and `translate` refuse it in one line that says to
retrain (numpygam.train.Trainer.load), rather than guess at the new characters' weights.
"""
import datetime

import numpy as np

from .vocab import Vocab

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ZH_DAYS = "一二三四五六日"  # 星期一 (Monday) ... 星期日 (Sunday)
FIRST, LAST = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
TWO_DIGIT_YEARS = (1950, 2049)  # the years a {yy} form may stand for
HELDOUT_SEED = 10_000           # the held-out set is the same whatever the training seed

FORMATS = [
    "{d} {month} {yyyy}", "{dd} {month} {yyyy}", "{d} {mon} {yyyy}", "{d}-{mon}-{yyyy}",
    "{d} {mon} {yy}",
    "{dth} {month} {yyyy}", "{dth} of {month} {yyyy}", "the {d} of {month} {yyyy}",
    "the {dth} of {month}, {yyyy}",
    "{month} {d}, {yyyy}", "{month} {d} {yyyy}", "{mon} {d}, {yyyy}", "{mon}. {d}, {yyyy}",
    "{month} {dth}, {yyyy}", "{month} {dth} {yyyy}", "{month} {yyyy}, {d}",
    "{weekday}, {month} {d}, {yyyy}", "{weekday}, {month} {dth}, {yyyy}",
    "{weekday} {d} {month} {yyyy}", "{weekday} the {dth} of {month} {yyyy}",
    "{wd}, {d} {mon} {yyyy}", "{wd} {mon} {d} {yyyy}",
    "{m}/{d}/{yy}", "{m}/{d}/{yyyy}", "{mm}/{dd}/{yyyy}",
    "{d}.{m}.{yyyy}", "{dd}.{mm}.{yyyy}",
    "{yyyy}-{mm}-{dd}", "{yyyy}/{mm}/{dd}",
    "{yyyy}年{m}月{d}日", "{yyyy}年{mm}月{dd}日", "{yyyy}年{m}月{d}号",
    "{yyyy}年{m}月{d}日{zhweekday}", "{yyyy}年{m}月{d}日 {zhweekday}", "{yyyy}年{m}月{d}日, {zhwd}",
]
# every character any form can produce: the source vocabulary
CHARS = "".join(MONTHS) + "".join(DAYS) + "0123456789 ,./-"
# the Chinese characters sort after the Latin ones (Vocab sorts), so the older ids keep
# their meaning; only the embedding grows
CHARS_BEFORE_CHINESE = CHARS
CHARS += "年月日号星期周" + ZH_DAYS[:-1]


def ordinal(n):
    """1 -> '1st', 2 -> '2nd', 3 -> '3rd', 11 -> '11th', 22 -> '22nd'."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def fields(d):
    """The values of the template fields for the date d."""
    return dict(d=d.day, dd=f"{d.day:02d}", dth=ordinal(d.day), m=d.month, mm=f"{d.month:02d}",
                month=MONTHS[d.month - 1], mon=MONTHS[d.month - 1][:3],
                weekday=DAYS[d.weekday()], wd=DAYS[d.weekday()][:3], yyyy=d.year,
                zhweekday="星期" + ZH_DAYS[d.weekday()], zhwd="周" + ZH_DAYS[d.weekday()],
                yy=f"{d.year % 100:02d}")


def allowed_formats(d):
    """The FORMATS that write d unambiguously (no {yy} outside TWO_DIGIT_YEARS)."""
    two_digit_ok = TWO_DIGIT_YEARS[0] <= d.year <= TWO_DIGIT_YEARS[1]
    return [f for f in FORMATS if two_digit_ok or "{yy}" not in f]


def labelled_pairs(n, seed):
    """n (human date, ISO date, form) triples; the same seed gives the same triples."""
    rng = np.random.default_rng(seed)
    span = (LAST - FIRST).days + 1
    triples = []
    for offset, u in zip(rng.integers(0, span, n), rng.random(n)):
        d = FIRST + datetime.timedelta(days=int(offset))
        forms = allowed_formats(d)
        form = forms[int(u * len(forms))]
        triples.append((form.format(**fields(d)), d.isoformat(), form))
    return triples


def random_pairs(n, seed):
    """n (human date, ISO date) pairs; the same seed gives the same pairs."""
    return [(text, iso) for text, iso, _ in labelled_pairs(n, seed)]


def date_task(train_size=40000, heldout_size=1000, seed=0):
    """(train pairs, held-out pairs, source vocab, target vocab).

    The held-out set is fixed (HELDOUT_SEED, whatever `seed` is) and no
    held-out input appears in the training pairs.  labelled_pairs(heldout_size,
    HELDOUT_SEED) gives the held-out pairs with the form of each.
    """
    heldout = random_pairs(heldout_size, seed=HELDOUT_SEED)
    held_inputs = {s for s, _ in heldout}
    train = [p for p in random_pairs(train_size, seed) if p[0] not in held_inputs]
    return train, heldout, Vocab(CHARS), Vocab("0123456789-")
