"""numpygam.nn.transformer_translator: its loss against finite differences, the attention it shows."""
import numpy as np

from numpygam import gradcheck_module, nn


def test_translator_loss_matches_finite_differences_for_every_parameter():
    from numpygam.tasks import copy_task, make_batch
    pairs, vocab = copy_task(3, seed=5, min_len=2, max_len=5)
    batch = make_batch(pairs, vocab, vocab)
    nn.manual_seed(0)
    model = nn.TransformerTranslator(len(vocab), len(vocab), d_model=4, nhead=2, num_layers=1,
                                     dim_feedforward=6, dropout=0.0, max_len=8)
    report = gradcheck_module(nn.SequenceLoss(model), [batch.src, batch.src_lengths, batch.tgt_in,
                                                       batch.tgt_out], h=1e-5)
    assert report.passed, str(report)


def test_the_translators_head_weights_are_the_last_decoder_layers():
    """With two decoder layers, the weights a translator reports (and `translate` draws)
    are the last layer's cross-attention, per head and averaged over the heads."""
    from numpygam.nn import TransformerTranslator
    model = TransformerTranslator(12, 12, d_model=8, nhead=2, num_layers=2, dim_feedforward=16,
                                  dropout=0.0)
    model.eval()
    rng = np.random.default_rng(0)
    src, tgt = rng.integers(3, 12, (2, 5)), rng.integers(3, 12, (2, 4))
    model(src, np.array([5, 4]), tgt)
    last, first = (model.transformer.decoder.layers[i].cross_weights for i in (-1, 0))
    assert not np.allclose(last, first)
    np.testing.assert_array_equal(model.head_weights, last)
    np.testing.assert_allclose(model.weights, last.mean(axis=1))


def test_the_translator_shows_the_last_decoder_layers_cross_attention():
    model = nn.TransformerTranslator(7, 6, d_model=8, nhead=2, num_layers=2, dim_feedforward=8,
                                     dropout=0.0)
    model.eval()
    model(np.array([[3, 4, 5]]), np.array([3]), np.array([[1, 3]]))
    layers = model.transformer.decoder.layers
    assert model.head_weights is layers[-1].cross_weights
    assert not np.allclose(layers[0].cross_weights, layers[1].cross_weights)
