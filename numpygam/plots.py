"""Figures: attention heatmaps (input characters against output characters)."""
import numpy as np
from matplotlib.figure import Figure  # no pyplot: no backend or display is chosen for the caller

SHADES = " ░▒▓█"


def attention_heatmap(weights, src_text, out_text, path, title=None):
    """Save a heatmap of weights (len(out) [+ <eos>], len(src)) with characters as ticks."""
    weights = np.asarray(weights, dtype=np.float64)
    out_labels = list(out_text) + ["<eos>"] * (weights.shape[0] - len(out_text))
    fig = Figure(figsize=(max(4, 0.32 * len(src_text) + 1.5), max(3, 0.32 * len(out_labels) + 1.2)))
    ax = fig.subplots()
    image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=max(1e-9, weights.max()),
                      aspect="auto")
    ax.set_xticks(range(len(src_text)), [c if c != " " else "␣" for c in src_text])
    ax.set_yticks(range(len(out_labels)), out_labels)
    ax.set_xlabel("input characters (keys)")
    ax.set_ylabel("output characters (queries)")
    ax.set_title(title or f"{src_text!r} -> {out_text!r}")
    fig.colorbar(image, ax=ax, fraction=0.04, label="attention weight a_ij")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def attention_text(weights, src_text, out_text):
    """The same map for a terminal: one row per output character, shaded by weight."""
    weights = np.asarray(weights)
    lines = ["    " + "".join(c if c != " " else "␣" for c in src_text)]
    for i, row in enumerate(weights[:len(out_text)]):
        level = np.minimum((row / max(row.max(), 1e-9) * (len(SHADES) - 1)).round().astype(int),
                           len(SHADES) - 1)
        lines.append(f" {out_text[i]}  " + "".join(SHADES[k] for k in level))
    return "\n".join(lines)


def head_heatmaps(head_weights, src_text, out_text, path, title=None):
    """Save one heatmap per attention head: head_weights (H, len(out) [+ <eos>], len(src))."""
    head_weights = np.asarray(head_weights, dtype=np.float64)
    H, rows = head_weights.shape[:2]
    out_labels = list(out_text) + ["<eos>"] * (rows - len(out_text))
    width = max(3.5, 0.28 * len(src_text) + 1.2)
    fig = Figure(figsize=(width * H, max(3, 0.3 * rows + 1.4)))
    axes = np.atleast_1d(fig.subplots(1, H))
    for h, ax in enumerate(axes):
        ax.imshow(head_weights[h], cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(src_text)), [c if c != " " else "␣" for c in src_text],
                      fontsize=7)
        ax.set_yticks(range(rows), out_labels if h == 0 else [""] * rows)
        ax.set_title(f"head {h + 1}")
    fig.suptitle(title or f"cross-attention per head: {src_text!r} -> {out_text!r}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def gam_ports_figure(path, channels=16, seed=0):
    """The chapter "The GAM you copied", on one input: what the YOLO-family port's two
    departures from the paper do.

    Left: the channel gate's values over the input, the port's (MLP, no sigmoid: any sign,
    any size) against the same MLP with the paper's sigmoid (inside (0, 1)).  Right: the
    spatial gate the port computes for channel 1, the gate it multiplies channel 1 by after
    its 4-group shuffle, and the channel that gate was computed for.  x: (1, channels,
    12, 12), normal; the port untrained (its initial weights, eval mode).
    """
    from . import nn
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, channels, 12, 12)).astype(np.float32)
    port = nn.GAMAttention(channels, channels, rng=rng)
    unshuffled = nn.GAMAttention(channels, channels, shuffle_groups=None)
    unshuffled.load_state_dict(port.state_dict())
    for module in (port, unshuffled):
        module.eval()
        module(x)
    raw = port.channel_gate.ravel()
    computed, applied = unshuffled.spatial_gate[0], port.spatial_gate[0]
    source = int(np.argmin([np.abs(applied[1] - g).max() for g in computed]))
    fig = Figure(figsize=(11, 3.2))
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1.6, 1, 1, 1]})
    bins = np.linspace(min(raw.min(), 0), max(raw.max(), 1), 40)
    axes[0].hist(raw, bins=bins, alpha=0.7, label="port: MLP, no sigmoid")
    axes[0].hist(1 / (1 + np.exp(-raw)), bins=bins, alpha=0.7, label="paper: sigmoid(MLP)")
    axes[0].axvspan(0, 1, color="0.9", zorder=0)
    axes[0].set_xlabel("channel gate value")
    axes[0].set_ylabel("count")
    axes[0].set_title("the channel gate's range")
    axes[0].legend(fontsize=7)
    shown = (computed[1], applied[1], computed[source])
    low, high = min(g.min() for g in shown), max(g.max() for g in shown)  # one shared scale
    for ax, gate in zip(axes[1:], shown):
        image = ax.imshow(gate, cmap="viridis", vmin=low, vmax=high)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].set_title("gate computed for channel 1", fontsize=9)
    axes[2].set_title("gate applied to channel 1", fontsize=9)
    axes[3].set_title(f"gate computed for channel {source}", fontsize=9)
    fig.colorbar(image, ax=list(axes[1:]), fraction=0.02, label="spatial gate value")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path, source
