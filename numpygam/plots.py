"""Figures: attention heatmaps (input characters against output characters).

Chinese inputs (1979年5月3日) draw with an installed CJK font (cjk_font), after DejaVu Sans:
matplotlib falls back glyph by glyph, so Latin text looks as it always has.
"""
import contextlib
import functools
import os
import re
import textwrap

import matplotlib
import numpy as np
from matplotlib.figure import Figure  # no pyplot: no backend or display is chosen for the caller

SHADES = " ░▒▓█"
# fonts with Chinese characters, the likeliest first; any other whose name suggests CJK
# comes after them (CJK_NAME), and with none the figure draws as before
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans",
             "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei",
             "PingFang SC", "Heiti SC", "Noto Serif CJK SC", "AR PL UMing CN",
             "Droid Sans Fallback")
CJK_NAME = re.compile(r"CJK|WenQuanYi|Han Sans|Han Serif|YaHei|SimHei|SimSun|Heiti|PingFang|"
                      r"UMing|UKai|Droid Sans Fallback", re.I)
CJK_FILE = re.compile(r"wqy|cjk|sourcehan|notosanssc|simhei|simsun|yahei|pingfang|uming|ukai|"
                      r"droidsansfallback", re.I)


@functools.lru_cache(maxsize=None)
def cjk_font():
    """The family name of an installed font that draws Chinese characters, or None.

    Matplotlib's font cache may predate a font installed later (fc-list :lang=zh lists it,
    matplotlib does not): then the system's font files whose names suggest CJK are added."""
    from matplotlib import font_manager

    def found():
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((f for f in CJK_FONTS if f in names), None) or \
            next((n for n in sorted(names) if CJK_NAME.search(n)), None)
    if found() is None:
        for path in font_manager.findSystemFonts():
            if CJK_FILE.search(os.path.basename(path)):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue  # a file FreeType cannot read: skip it
    return found()


def _fonts():
    """Draw with DejaVu Sans, falling back to a CJK font for the glyphs it lacks (年 月 日)."""
    family = cjk_font()
    if family is None:
        return contextlib.nullcontext()
    return matplotlib.rc_context({"font.family": ["DejaVu Sans", family]})


def _fit_title(fig, ax, title, wrapped, renderer):
    """Lay the figure out so that its title lies inside it: wrapped onto two lines if one is
    too wide, and the figure widened if that is not enough."""
    def overflow():
        box, edge = ax.title.get_window_extent(renderer), fig.bbox
        return max(edge.x0 - box.x0, box.x1 - edge.x1, edge.y0 - box.y0, box.y1 - edge.y1, 0)
    ax.set_title(title)
    fig.tight_layout()
    if overflow() and wrapped != title:
        ax.set_title(wrapped)
        fig.tight_layout()
    for _ in range(4):
        extra = overflow()
        if not extra:
            break
        fig.set_figwidth(fig.get_figwidth() + 2 * extra / fig.dpi + 0.2)
        fig.tight_layout()


def attention_figure(weights, src_text, out_text, title=None):
    """The heatmap of weights (len(out) [+ <eos>], len(src)) with characters as ticks, laid
    out (its title inside it): a matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    weights = np.asarray(weights, dtype=np.float64)
    out_labels = list(out_text) + ["<eos>"] * (weights.shape[0] - len(out_text))
    with _fonts():
        fig = Figure(figsize=(max(4, 0.32 * len(src_text) + 1.5),
                              max(3, 0.32 * len(out_labels) + 1.2)))
        renderer = FigureCanvasAgg(fig).get_renderer()
        ax = fig.subplots()
        image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=max(1e-9, weights.max()),
                          aspect="auto")
        ax.set_xticks(range(len(src_text)), [c if c != " " else "␣" for c in src_text])
        ax.set_yticks(range(len(out_labels)), out_labels)
        ax.set_xlabel("input characters (keys)")
        ax.set_ylabel("output characters (queries)")
        fig.colorbar(image, ax=ax, fraction=0.04, label="attention weight a_ij")
        _fit_title(fig, ax, title or f"{src_text!r} -> {out_text!r}",
                   textwrap.fill(title, len(title) // 2 + 1) if title else
                   f"{src_text!r}\n-> {out_text!r}", renderer)
    return fig


def attention_heatmap(weights, src_text, out_text, path, title=None):
    """Save a heatmap of weights (len(out) [+ <eos>], len(src)) with characters as ticks."""
    fig = attention_figure(weights, src_text, out_text, title)
    with _fonts():
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
    with _fonts():
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
        fig.savefig(path, dpi=110, bbox_inches="tight")  # a long suptitle stays whole
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
