"""Toy data generated offline: dates to ISO, and copy/reverse."""
from .dates import date_task, random_pairs
from .toy import copy_task
from .vocab import EOS, PAD, SOS, Batch, Vocab, batches, make_batch
