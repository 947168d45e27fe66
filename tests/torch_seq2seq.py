"""The encoder-decoder of numpygam.nn.seq2seq rebuilt from PyTorch ops, parameter for
parameter (same state_dict keys), for the oracle tests and the training benchmark."""
import math

import torch
import torch.nn as tnn


class Scores(tnn.Module):
    """Luong/Bahdanau scores with numpygam's parameter names; returns e (B, Tq, Tk)."""

    def __init__(self, score, Dq, Dk, A, num_keys=None):
        super().__init__()
        self.score, self.Dq = score, Dq
        P = lambda *s: tnn.Parameter(torch.empty(*s))  # noqa: E731 (filled by load_state_dict)
        if score == "general":
            self.W_a = P(Dq, Dk)
        elif score == "concat":
            self.W_a, self.v_a = P(A, Dq + Dk), P(A)
        elif score == "additive":
            self.W_a, self.U_a, self.v_a, self.b_a = P(A, Dq), P(A, Dk), P(A), P(A)
        elif score == "location":
            self.W_a = P(num_keys, Dq)

    def forward(self, q, k):
        if self.score in ("dot", "scaled_dot"):
            e = q @ k.transpose(1, 2)
            return e / math.sqrt(self.Dq) if self.score == "scaled_dot" else e
        if self.score == "general":
            return q @ self.W_a @ k.transpose(1, 2)
        if self.score == "location":
            return q @ self.W_a.T
        if self.score == "concat":
            Tq, Tk = q.shape[1], k.shape[1]
            pairs = torch.cat([q[:, :, None].expand(-1, -1, Tk, -1),
                               k[:, None].expand(-1, Tq, -1, -1)], -1)
            return torch.tanh(pairs @ self.W_a.T) @ self.v_a
        return torch.tanh((q @ self.W_a.T + self.b_a)[:, :, None] + (k @ self.U_a.T)[:, None]) \
            @ self.v_a


class AttentionalHidden(tnn.Module):
    def __init__(self, Dc, Dh, D):
        super().__init__()
        self.W_c = tnn.Parameter(torch.empty(D, Dc + Dh))

    def forward(self, c, h):
        return torch.tanh(torch.cat([c, h], -1) @ self.W_c.T)


class Encoder(tnn.Module):
    def __init__(self, V, E, H):
        super().__init__()
        self.embedding = tnn.Embedding(V, E, padding_idx=0)
        self.rnn = tnn.GRU(E, H, batch_first=True, bidirectional=True)

    def forward(self, src, lengths):
        packed = tnn.utils.rnn.pack_padded_sequence(self.embedding(src), lengths.cpu(),
                                                    batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)
        out, _ = tnn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                   total_length=src.shape[1])
        return out, torch.cat([h_n[0], h_n[1]], -1)


class Decoder(tnn.Module):
    def __init__(self, kind, V, E, Hd, Dk, score, A, num_keys, input_feeding=True):
        super().__init__()
        self.kind, self.input_feeding = kind, input_feeding
        self.embedding = tnn.Embedding(V, E, padding_idx=0)
        self.attention = Scores(score, Hd, Dk, A, num_keys)
        if kind == "bahdanau":
            self.cell = tnn.GRUCell(E + Dk, Hd)
            self.out = tnn.Linear(Hd + Dk, V)
        else:
            self.cell = tnn.GRUCell(E + (Hd if input_feeding else 0), Hd)
            self.attentional = AttentionalHidden(Dk, Hd, Hd)
            self.out = tnn.Linear(Hd, V)

    def attend(self, q, keys, mask):
        a = torch.softmax(self.attention(q[:, None], keys).masked_fill(~mask, float("-inf")), -1)
        return (a @ keys)[:, 0]

    def forward(self, tgt_in, s, keys, mask):
        logits = []
        h_tilde = torch.zeros_like(s)
        for t in range(tgt_in.shape[1]):
            e = self.embedding(tgt_in[:, t])
            if self.kind == "bahdanau":
                c = self.attend(s, keys, mask)
                s = self.cell(torch.cat([e, c], -1), s)
                logits.append(self.out(torch.cat([s, c], -1)))
            else:
                s = self.cell(torch.cat([e, h_tilde], -1) if self.input_feeding else e, s)
                h_tilde = self.attentional(self.attend(s, keys, mask), s)
                logits.append(self.out(h_tilde))
        return torch.stack(logits, 1)


class Seq2Seq(tnn.Module):
    def __init__(self, V_src, V_tgt, E, He, Hd, kind, score, A, max_src_len=None):
        super().__init__()
        self.encoder = Encoder(V_src, E, He)
        self.bridge = tnn.Linear(2 * He, Hd)
        self.decoder = Decoder(kind, V_tgt, E, Hd, 2 * He, score, A, max_src_len)
        self.num_keys = max_src_len if score == "location" else None

    def forward(self, src, lengths, tgt_in):
        keys, final = self.encoder(src, lengths)
        if self.num_keys:
            keys = tnn.functional.pad(keys, (0, 0, 0, self.num_keys - keys.shape[1]))
        mask = (torch.arange(keys.shape[1]) < lengths[:, None])[:, None, :]
        return self.decoder(tgt_in, torch.tanh(self.bridge(final)), keys, mask)

    def loss(self, batch):
        logits = self(torch.as_tensor(batch.src), torch.as_tensor(batch.src_lengths),
                      torch.as_tensor(batch.tgt_in))
        return tnn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                            torch.as_tensor(batch.tgt_out).reshape(-1),
                                            ignore_index=0)
