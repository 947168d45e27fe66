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

read_date(text) says whether a text is in one of the forms (a regular expression per
template, built from the same fields, then the date written back with the template must
give the text again) and what it reads, or in one line why not: `translate` marks the
model's answer to any other input as a guess.

A checkpoint trained before the Chinese forms existed has a source vocabulary 13
characters smaller: `train --resume` and `translate` refuse it in one line that says to
retrain (numpygam.train.Trainer.load), rather than guess at the new characters' weights.
"""
import datetime
import re
import string

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


# -- reading an input: is it in one of the task's forms? ------------------------------------
#
# Each template of FORMATS becomes a regular expression, piece by piece: its literal text
# escaped, each field a group that takes what that field can write (digits of the field's
# count, a month or weekday name of the lists above).  A text is in a form when a form's
# expression matches it whole, the numbers make a day of the calendar in 1900-2099, and
# writing that day with the same form gives the text back: the last step checks, with the
# generator's own code, what a pattern cannot say alone (a leading zero, an ordinal's
# suffix, that the weekday is the date's).

FIELD_PATTERNS = {
    "d": r"(?P<day>\d{1,2})", "dd": r"(?P<day>\d\d)",
    "dth": r"(?P<day>\d{1,2})(?:st|nd|rd|th)",
    "m": r"(?P<month>\d{1,2})", "mm": r"(?P<month>\d\d)",
    "month": "(?P<month_name>" + "|".join(MONTHS) + ")",
    "mon": "(?P<month_name>" + "|".join(m[:3] for m in MONTHS) + ")",
    "weekday": "(?P<weekday>" + "|".join(DAYS) + ")",
    "wd": "(?P<weekday>" + "|".join(d[:3] for d in DAYS) + ")",
    "zhweekday": f"(?P<weekday>星期[{ZH_DAYS}])", "zhwd": f"(?P<weekday>周[{ZH_DAYS}])",
    "yyyy": r"(?P<year>\d{4})", "yy": r"(?P<yy>\d\d)",
}
ZH_NUMERALS = "〇零一二三四五六七八九十两廿卅"
EXAMPLE = datetime.date(1979, 5, 3)  # the date the one-line reasons write their examples with


def form_pattern(form):
    """The regular expression of one template of FORMATS, matching the whole text."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(form):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(FIELD_PATTERNS[field])
    return re.compile("".join(parts) + r"\Z")


def _two_digit_year(yy):
    """The year a {yy} field stands for: 50-99 -> 19xx, 00-49 -> 20xx."""
    return 1900 + yy if yy >= 50 else 2000 + yy


def _match_date(match, form):
    """(date, None) for a form's match, or (None, why it names no date of the task)."""
    groups = match.groupdict()
    day = int(groups["day"])
    if groups.get("month_name"):
        month = [m[:len(groups["month_name"])] for m in MONTHS].index(groups["month_name"]) + 1
    else:
        month = int(groups["month"])
    year = int(groups["year"]) if groups.get("year") else _two_digit_year(int(groups["yy"]))
    if not 1 <= month <= 12:
        return None, f"not a real date: there is no month {month}"
    try:
        d = datetime.date(year, month, day)
    except ValueError:
        return None, f"not a real date: {MONTHS[month - 1]} {year} has no day {day}"
    if not FIRST <= d <= LAST:
        return None, f"the year {year} is outside the task's years {FIRST.year}-{LAST.year}"
    field = next((f for f in ("weekday", "wd", "zhweekday", "zhwd") if "{" + f + "}" in form),
                 None)
    if field and groups["weekday"] != fields(d)[field]:
        return None, (f"the weekday is wrong: {d.isoformat()} falls on {fields(d)[field]}, "
                      f"not {groups['weekday']}")
    written = form.format(**fields(d))
    if written != match.string:  # a leading zero, or an ordinal's suffix
        return None, f"not as the task writes a date: that form writes this one {written}"
    return d, None


FORM_PATTERNS = [(form, form_pattern(form)) for form in FORMATS]


def _read(text):
    """(ISO date, None) when text is in a form, (None, reason) when it matches a form's
    pattern but names no date of the task that way, (None, None) when it matches none."""
    first_reason = None
    for form, pattern in FORM_PATTERNS:
        match = pattern.match(text)
        if match:
            d, reason = _match_date(match, form)
            if d is not None:
                return d.isoformat(), None
            first_reason = first_reason or reason
    return None, first_reason


def examples(forms=("{d} {month} {yyyy}", "{m}/{d}/{yy}", "{yyyy}-{mm}-{dd}",
                    "{yyyy}年{m}月{d}日")):
    """A few forms written for EXAMPLE, for the one-line reasons: '3 may 1979, 5/3/79, ...'."""
    return ", ".join(f.format(**fields(EXAMPLE)) for f in forms)


def read_date(text):
    """(ISO date, None) when text (lower case, single spaces, as `translate` makes it) is in
    one of the task's forms; else (None, one line saying why it is not).

    read_date("tuesday, march 5th, 1991") -> ("1991-03-05", None);
    read_date("3 march") -> (None, "no year: ...").
    """
    iso, reason = _read(text)
    if iso or reason:
        return iso, reason
    if not any(c.isdigit() for c in text):
        return None, ("the input has no date in it (every form the translator reads has its "
                      "day and year in digits)")
    if any(c in text for c in "年月日号"):
        numerals = re.sub(f"(星期|周)[{ZH_DAYS}]", "", text)  # a weekday's 一-六 and 日 stay
        if any(c in ZH_NUMERALS for c in numerals):
            return None, (f"the Chinese forms write the year, month and day in digits "
                          f"({examples(['{yyyy}年{m}月{d}日'])}), not in Chinese numerals")
        if "年" not in text:
            return None, (f"no year: every form the translator reads has one "
                          f"({examples(['{yyyy}年{m}月{d}日'])})")
        packed = re.sub(r" ?([年月日号]) ?", r"\1", text)
        if packed != text and _read(packed)[0]:
            return None, (f"the Chinese forms have no spaces around 年, 月 and 日: write "
                          f"{packed}")
        return None, (f"not in any of the task's Chinese forms "
                      f"({examples([f for f in FORMATS if '年' in f][:4])})")
    numbers = re.findall(r"\d+", text)
    named = any(m[:3] in text for m in MONTHS)  # a month by name: one number fewer
    if not any(len(n) == 4 for n in numbers):
        if len(numbers) < (2 if named else 3):
            return None, (f"no year: every form the translator reads has one "
                          f"({examples()})")
        two_digit = [f for f in FORMATS if "{yy}" in f]
        return None, (f"a two-digit year is read only in the forms {examples(two_digit)}; "
                      f"write the year in four digits")
    return None, f"not in any of the task's {len(FORMATS)} forms (e.g. {examples()})"
