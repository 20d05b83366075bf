"""A single diff as Markdown or as a small self-contained HTML page (``newsmon diff --format``).

All article text is escaped: Markdown through ``md_text``, HTML through Jinja2 with autoescape on.
"""

from __future__ import annotations

from jinja2 import Environment, select_autoescape

from ..models import Diff
from ..summary import describe_figure
from .markdown import md_text


def diff_markdown(diff: Diff) -> str:
    lines = [f"**{diff.kind}** (significance {diff.significance})", ""]
    lines += [f"- **{md_text(describe_figure(f))}**" for f in diff.figures]
    if diff.title is not None:
        lines.append(f"- headline rewritten: “{md_text(diff.title.old)}” -> “{md_text(diff.title.new)}”")
    lines += [f"- added: {md_text(s)}" for s in diff.added]
    lines += [f"- removed: {md_text(s)}" for s in diff.removed]
    for change in diff.changed:
        words = "".join(
            md_text(text) if op == "=" else f"~~{md_text(text)}~~" if op == "-" else f"**{md_text(text)}**"
            for op, text in change.words
        )
        lines.append(f"- changed: {words}")
    lines += [f"- moved: {md_text(s)}" for s in diff.moved]
    return "\n".join(lines) + "\n"


_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_PAGE = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>newsmon diff</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:50em;margin:2em auto;padding:0 1em}
ins{background:#d4f7d4;text-decoration:none} del{background:#ffd6d6}
.figure{font-weight:bold} .meta{color:#555}
</style></head><body>
<p class="meta">{{ diff.kind }} · significance {{ diff.significance }}</p>
{% if diff.title %}<h2>Headline</h2><p><del>{{ diff.title.old }}</del><br><ins>{{ diff.title.new }}</ins></p>{% endif %}
{% if figures %}<h2>Figures</h2><ul>{% for f in figures %}<li class="figure">{{ f }}</li>{% endfor %}</ul>{% endif %}
{% if diff.changed %}<h2>Changed</h2>{% for c in diff.changed %}<p>
{%- for op, text in c.words -%}
{% if op == "-" %}<del>{{ text }}</del>{% elif op == "+" %}<ins>{{ text }}</ins>{% else %}{{ text }}{% endif %}
{%- endfor -%}
</p>{% endfor %}{% endif %}
{% if diff.added %}<h2>Added</h2>{% for s in diff.added %}<p><ins>{{ s }}</ins></p>{% endfor %}{% endif %}
{% if diff.removed %}<h2>Removed</h2>{% for s in diff.removed %}<p><del>{{ s }}</del></p>{% endfor %}{% endif %}
{% if diff.moved %}<h2>Moved</h2>{% for s in diff.moved %}<p>{{ s }}</p>{% endfor %}{% endif %}
</body></html>
""")


def diff_html(diff: Diff) -> str:
    return _PAGE.render(diff=diff, figures=[describe_figure(f) for f in diff.figures])
