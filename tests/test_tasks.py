"""numpygam.tasks: the date task's data is reproducible and its held-out set is disjoint."""
from numpygam.tasks import date_task


def test_date_data_is_reproducible_and_heldout_is_disjoint():
    train_a, held_a, src_vocab, tgt_vocab = date_task(500, seed=1)
    train_b, held_b, _, _ = date_task(500, seed=1)
    assert train_a == train_b and held_a == held_b
    assert not {s for s, _ in held_a} & {s for s, _ in train_a}
    assert date_task(500, seed=2)[1] == held_a  # the held-out set does not move with the seed
    for src, iso in train_a[:50]:
        assert len(iso) == 10 and iso[4] == iso[7] == "-"
        src_vocab.encode(src)
