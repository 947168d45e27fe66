"""numpygam.tasks: the translation tasks, their data made offline, and the vocabularies.

    dates.py   the date translator's task: 35 written forms of a date (6 Chinese) -> YYYY-MM-DD
    toy.py     copy and reverse a digit string (the smallest tests of a decoder)
    vocab.py   characters <-> ids, padding and batches, shared by every task
"""
from .dates import date_task, random_pairs
from .toy import copy_task
from .vocab import EOS, PAD, SOS, Batch, Vocab, batches, make_batch
