"""Is a fetched page the page, or a stand-in? Pure judgement from evidence.

- `evidence`: what a judgement may look at (`Response`: status, headers, cookies, the
  redirect chain; `Markup`: the page's structure) and what it says (`Kind`, `Reason`,
  `Judgement`).
- `signatures`: how the real services mark their walls (hosts, headers, cookies, markup).
- `words`: stand-in wording, weak evidence only.
- `decide`: `judge(response, markup)`, strongest evidence first.

Comparison with the last good snapshot and with a made-up sibling URL needs two pages,
so it lives with the link check (`archiver.check.classify`), which adds its reasons.
"""

from archiver.judge.decide import judge
from archiver.judge.evidence import (
    Judgement,
    Kind,
    Markup,
    Reason,
    Response,
    markup_of,
    reasons_of,
)

__all__ = ["Judgement", "Kind", "Markup", "Reason", "Response", "judge", "markup_of", "reasons_of"]
