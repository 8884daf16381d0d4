"""The viewer's HTML page, built as a string from trajectory views (pure; every text is escaped).

One self-contained ``index.html`` with inline CSS and no script. Images are referenced as sibling PNG files
(``<name>_image<k>.png``, written next to the page), so the page stays small and the PNGs are usable on their own.

Loss status is a CSS class on each conversation ``<span>``: ``trained`` or ``masked`` (one class, nothing else),
so tests and scripts can read the mask back from the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from verl_pixel.viewer.model import (
    ImageRef,
    NumberedImage,
    OperationView,
    SpanKind,
    TextSpan,
    TrajectoryView,
    Turn,
    operation_colour,
)

STYLE = """
:root { --ink: #1f2933; --muted: #6b7280; --rule: #e5e7eb; --trained: #d3f0dc; --trained-edge: #2f855a;
        --masked: #eef0f3; --note: #fff7e6; }
* { box-sizing: border-box; }
body { margin: 0; background: #f7f7f8; color: var(--ink); font: 14px/1.5 system-ui, -apple-system, sans-serif; }
header { position: sticky; top: 0; z-index: 1; background: #fff; border-bottom: 1px solid var(--rule);
         padding: 10px 24px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
header h1 { font-size: 17px; margin: 0; }
.key { padding: 1px 6px; border-radius: 3px; font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
.key-trained { background: var(--trained); border-bottom: 2px solid var(--trained-edge); }
.key-masked { background: var(--masked); color: var(--muted); }
nav { margin: 12px 24px; font-size: 13px; color: var(--muted); }
nav a { margin-right: 12px; color: inherit; }
section.trajectory { background: #fff; margin: 16px 24px; padding: 16px 24px; border: 1px solid var(--rule);
                     border-radius: 8px; }
section h2 { font-size: 16px; margin: 0 0 8px; }
h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 16px 0 6px; }
.notes { background: var(--note); border-left: 3px solid #d97706; padding: 6px 10px; margin: 8px 0; }
.notes p { margin: 2px 0; }
table.fields { border-collapse: collapse; font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
table.fields th, table.fields td { text-align: left; padding: 2px 14px 2px 0; border-bottom: 1px solid var(--rule);
                                   vertical-align: top; }
table.fields th { font-weight: 600; white-space: nowrap; }
.images { display: flex; flex-wrap: wrap; gap: 14px; }
figure { margin: 0; }
figure img { display: block; max-width: 380px; max-height: 380px; border: 1px solid var(--rule); }
figcaption { font-size: 12px; color: var(--muted); }
figcaption b { color: var(--ink); }
ol.operations { margin: 0; padding-left: 22px; font-size: 13px; }
ol.operations code { font-size: 12px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px;
          vertical-align: -1px; }
.failed { color: #b91c1c; }
.turn { display: grid; grid-template-columns: 120px 1fr; gap: 10px; padding: 6px 0;
        border-top: 1px solid var(--rule); }
.role { font-weight: 600; font-size: 13px; }
.role small { display: block; font-weight: 400; color: var(--muted); }
.text { white-space: pre-wrap; word-break: break-word; font: 12.5px/1.55 ui-monospace, Menlo, monospace; }
span.trained { background: var(--trained); border-bottom: 2px solid var(--trained-edge); }
span.masked { background: var(--masked); color: #4b5563; }
a.image-ref { display: inline-flex; align-items: center; gap: 4px; margin: 2px 4px 2px 0; padding: 1px 6px 1px 1px;
              border: 1px solid var(--rule); border-radius: 4px; background: #fff; color: var(--ink);
              text-decoration: none; font: 12px system-ui, sans-serif; vertical-align: middle; }
a.image-ref img { height: 36px; }
"""


def _rgb(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def render_page(views: Sequence[TrajectoryView], title: str, source: str) -> str:
    """The whole page.

    Args:
        views: the trajectories, one section each.
        title: page title.
        source: what was rendered (a path), shown in the header.
    """
    nav = " ".join(f'<a href="#{escape(v.name)}">{escape(v.title)}</a>' for v in views)
    sections = "\n".join(render_section(view) for view in views)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(title)}</h1><span>{escape(source)} · {len(views)} trajectories</span>"
        '<span><span class="key key-trained">trained</span> <span class="key key-masked">masked</span></span>'
        f"</header>\n<nav>{nav}</nav>\n{sections}\n</body>\n</html>\n"
    )


def render_section(view: TrajectoryView) -> str:
    """One trajectory: notes, fields, images, operations, conversation."""
    parts = [f'<section class="trajectory" id="{escape(view.name)}">', f"<h2>{escape(view.title)}</h2>"]
    if view.notes:
        parts.append('<div class="notes">' + "".join(f"<p>{escape(note)}</p>" for note in view.notes) + "</div>")
    if view.fields:
        rows = "".join(f"<tr><th>{escape(key)}</th><td>{escape(value)}</td></tr>" for key, value in view.fields)
        parts.append(f'<h3>Scores and fields</h3><table class="fields">{rows}</table>')
    if view.images:
        figures = "".join(_figure(view, image) for image in view.images)
        parts.append(f'<h3>Images</h3><div class="images">{figures}</div>')
    if view.operations:
        items = "".join(_operation(operation) for operation in view.operations)
        parts.append(f'<h3>Operations</h3><ol class="operations">{items}</ol>')
    turns = "".join(_turn(view, turn) for turn in view.turns)
    parts.append(f'<h3>Conversation</h3><div class="conversation">{turns}</div>')
    parts.append("</section>")
    return "\n".join(parts)


def _figure(view: TrajectoryView, image: NumberedImage) -> str:
    src = escape(view.image_file(image.number))
    width, height = image.image.size
    kind = "placeholder · " if image.placeholder else ""
    caption = f"<b>image {image.number}</b> · {escape(image.caption)} · {kind}{width}×{height}"
    return (
        f'<figure id="{escape(view.name)}-image{image.number}"><a href="{src}">'
        f'<img src="{src}" alt="image {image.number}" loading="lazy"></a><figcaption>{caption}</figcaption></figure>'
    )


def _operation(operation: OperationView) -> str:
    swatch = f'<span class="swatch" style="background:{_rgb(operation_colour(operation.index))}"></span>'
    call = f"<code>{escape(operation.name)} {escape(operation.arguments)}</code>"
    if operation.ok:
        numbers = ", ".join(f"image {n}" for n in operation.result_numbers)
        source = f" on image {operation.target_image}" if operation.target_image is not None else ""
        outcome = f"{source} → {numbers}"
    else:
        outcome = f' <span class="failed">✗ {escape(operation.message)}</span>'
    return f"<li>{swatch}{call}{outcome}</li>"


def _turn(view: TrajectoryView, turn: Turn) -> str:
    note = f"<small>{escape(turn.note)}</small>" if turn.note else ""
    body = "".join(_part(view, part) for part in turn.parts)
    return (
        f'<div class="turn role-{escape(turn.role)}"><div class="role">{escape(turn.role)}{note}</div>'
        f'<div class="text">{body}</div></div>'
    )


def _part(view: TrajectoryView, part: TextSpan | ImageRef) -> str:
    if isinstance(part, TextSpan):
        css = SpanKind(part.kind).value
        return f'<span class="{css}">{escape(part.text)}</span>'
    src = escape(view.image_file(part.number))
    if part.number > len(view.images):  # numbered in the text but not produced (e.g. an unreadable reference)
        return f'<span class="image-missing">[image {part.number}]</span>'
    return (
        f'<a class="image-ref" href="#{escape(view.name)}-image{part.number}">'
        f'<img src="{src}" alt="image {part.number}">image {part.number}</a>'
    )
