"""The in-notebook check: ✓/✗ per task, a hint button for each failed check."""

from __future__ import annotations

import html

from .result import Report


class CheckView:
    """Shows as the live widget in JupyterLab, and as the report's HTML/text where widgets do not
    render (a saved or unattended-executed notebook, a terminal)."""

    def __init__(self, widget, report: Report):
        self.widget, self.report = widget, report

    def _repr_mimebundle_(self, **kwargs):
        data = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        data["text/html"] = self.report.html(reveal_hidden=False)
        data["text/plain"] = self.report.table(reveal_hidden=False)
        return data

    def __repr__(self) -> str:
        return self.report.table(reveal_hidden=False)


def report_widget(report: Report, *, reveal_hidden: bool = False):
    """An ipywidgets view of ``report``; falls back to the report itself (it renders as HTML)."""
    try:
        import ipywidgets as w
    except ImportError:  # pragma: no cover - ipywidgets is a dependency, but a bare kernel may lack it
        return report
    titles = dict(report.tasks)
    color = "#1a7f37" if report.score == report.total else "#9a6700"
    rows = [w.HTML(f"<h4 style='margin:4px 0'>{html.escape(report.title)}: "
                   f"<span style='color:{color}'>{report.score:g} / {report.total:g} points</span></h4>")]
    for task, results in report.by_task().items():
        if not results:
            continue
        got, total = sum(r.points for r in results), sum(r.max_points for r in results)
        mark, spoken = ("✓", "all passed") if got == total else ("✗", "not all passed")
        rows.append(w.HTML(f"<b><span role='img' aria-label='{spoken}'>{mark}</span> "
                           f"{html.escape(titles.get(task, task))}</b> ({got:g}/{total:g})"))
        for r in (r.shown(reveal_hidden=reveal_hidden) for r in results):
            # the mark is a symbol with a spoken name, not a colour alone
            line = w.HTML(f"&nbsp;&nbsp;<span role='img' aria-label='{r.spoken}' "
                          f"style='color:{'#1a7f37' if r.passed else '#cf222e'}'>{r.mark}</span> "
                          f"{html.escape(r.title)}" + (f": {html.escape(r.message)}" if r.message else "")
                          + f" ({r.points:g}/{r.max_points:g})")
            if r.passed or not r.hint:
                rows.append(line)
                continue
            hint = w.HTML(f"<div style='margin-left:2em;color:#57606a'><b>Hint:</b> {html.escape(r.hint)}</div>",
                          layout=w.Layout(display="none"))
            button = w.ToggleButton(description="hint", tooltip=f"Show the hint for: {r.title}",
                                    layout=w.Layout(width="70px"))

            def toggle(change, hint=hint):
                hint.layout.display = "block" if change["new"] else "none"

            button.observe(toggle, names="value")
            rows.append(w.HBox([line, button]))
            rows.append(hint)
    return CheckView(w.VBox(rows), report)

