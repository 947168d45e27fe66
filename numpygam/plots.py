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
