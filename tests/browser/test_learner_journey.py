"""A new learner's journey through `dockyard lab`, in Chromium: what they see and click, asserted on the page."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

SOLUTION = Path(__file__).resolve().parents[2] / "labs" / "05-dockerfile" / "solution"
CELL_WAIT = 180_000  # ms: a cell that builds an image on a busy 2-core machine


# --- JupyterLab, as a person uses it ---------------------------------------------------------
def open_lab(page: Page, lab, path: str = "") -> None:
    """JupyterLab with a fresh workspace (``?reset``: no tabs of an earlier test), opening ``path``."""
    page.goto(lab.url((f"lab/tree/{path}" if path else "lab") + "?reset"))
    page.wait_for_selector(".jp-DirListing-content", timeout=60_000)


def open_in_browser(page: Page, *names: str) -> None:
    """Double-click through the file browser, as a person would."""
    for name in names:
        item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$")))
        expect(item).to_have_count(1, timeout=30_000)
        item.dblclick()


def menu(page: Page, top: str, *items: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    for item in items:
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).first.click()


def wait_kernel_idle(page: Page, timeout: float = 120) -> None:
    """The open notebook's kernel is idle. A dialog may come up while it starts (JupyterLab asks "Select
    Kernel" when the kernel list is still loading): it is answered with the notebook's own kernel, whenever
    it shows."""
    page.wait_for_selector(".jp-NotebookPanel:visible .jp-Cell", timeout=60_000)
    idle = page.locator(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator[data-status='idle']")
    dialog = page.locator(".jp-Dialog")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dialog.count():
            text = dialog.first.inner_text()
            assert "Kernel" in text, f"an unexpected dialog: {text}"
            dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click()
            expect(dialog).to_have_count(0, timeout=10_000)
        elif idle.count() == 1:
            page.wait_for_timeout(300)  # idle, and no dialog right behind it
            if idle.count() == 1 and not dialog.count():
                return
        page.wait_for_timeout(250)
    raise AssertionError("the notebook's kernel did not become idle within "
                         f"{timeout:.0f} s; status: {page.locator('.jp-Notebook-ExecutionIndicator').first.get_attribute('data-status')}")


def accessibility_problems(page: Page) -> list[str]:
    """In the open notebook's outputs: controls without a readable name, and ✓/✗ marks in rendered HTML with
    no spoken name (a mark told by its colour alone)."""
    return page.locator(".jp-NotebookPanel:visible .jp-OutputArea").evaluate_all("""areas => {
        const out = [];
        for (const area of areas) {
            for (const el of area.querySelectorAll('button, select, input, textarea')) {
                const name = (el.getAttribute('aria-label') || el.getAttribute('title') || '').trim()
                    || (el.tagName === 'BUTTON' ? el.innerText.trim() : '')
                    || Array.from(el.labels || []).map(l => l.innerText.trim()).join(' ');
                if (!name) out.push(`a ${el.tagName.toLowerCase()} without a name: ${el.outerHTML.slice(0, 120)}`);
            }
            const walker = document.createTreeWalker(area, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                if (!/[✓✗]/.test(n.textContent) || n.parentElement.closest('pre, .jp-RenderedText')) continue;
                if (!n.parentElement.closest('[aria-label]'))
                    out.push(`a mark without a spoken name: ${n.parentElement.outerHTML.slice(0, 120)}`);
            }
        }
        return out;
    }""")


def code_prompts(page: Page) -> list[str]:
    """The prompt ("[3]:", "[*]:", "[ ]:") of each code cell that has code (an empty cell never gets a number)."""
    return page.locator(".jp-NotebookPanel:visible .jp-CodeCell").evaluate_all(
        "cells => cells.filter(c => (c.querySelector('.cm-content')?.innerText || '').trim())"
        ".map(c => c.querySelector('.jp-InputPrompt').innerText.trim())")


def run_all(page: Page) -> None:
    menu(page, "Run", "Run All Cells")
    deadline, again = time.monotonic() + 600, time.monotonic() + 20
    while time.monotonic() < deadline:  # every code cell numbered, none waiting ([*]) or queued ([ ])
        prompts = code_prompts(page)
        if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            return
        if "[*]:" not in prompts and error_outputs(page):  # stopped at an error
            raise AssertionError(f"a cell failed: {error_outputs(page)[0][-1500:]}")
        if again and time.monotonic() > again and all(p == "[ ]:" for p in prompts):
            menu(page, "Run", "Run All Cells")  # the kernel was not connected yet when it was asked first
            again = None
        time.sleep(0.5)
    raise AssertionError(f"the notebook did not finish: prompts {prompts}")


def run_through(page: Page, containing: str) -> None:
    """Run every cell above the one whose code contains ``containing`` (Run → Run All Above Selected Cell), then it."""
    cell = page.locator(".jp-NotebookPanel:visible .jp-CodeCell", has_text=containing).first
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Escape")
    menu(page, "Run", "Run All Above Selected Cell")
    index = cell.evaluate("c => Array.from(c.parentElement.querySelectorAll(':scope > .jp-CodeCell')).indexOf(c)")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        prompts = code_prompts(page)[:index]
        if all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            break
        time.sleep(0.5)
    run_cell(page, containing)


def run_cell(page: Page, containing: str, shot=None) -> None:
    """Click into the cell whose code contains ``containing`` and run it with Shift+Enter; wait for its number.

    A Shift+Enter that ran nothing (the cell still "[ ]:" 10 s later: JupyterLab had no kernel connection yet) is
    pressed once more, after answering a "Select Kernel" dialog if one came up instead (``shot`` shows it)."""
    cell = page.locator(".jp-NotebookPanel:visible .jp-CodeCell", has_text=containing).first
    prompt = cell.locator(".jp-InputPrompt")
    for attempt in range(2):
        cell.scroll_into_view_if_needed()
        before = prompt.inner_text().strip()
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and prompt.inner_text().strip() == before == "[ ]:":
            page.wait_for_timeout(250)
        if prompt.inner_text().strip() != before or before != "[ ]:" or attempt:
            break
        if shot:
            shot(page, "shift-enter-ran-nothing")
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            assert "Kernel" in dialog.first.inner_text(), dialog.first.inner_text()
            dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click()
            expect(dialog).to_have_count(0, timeout=10_000)
        wait_kernel_idle(page)
    expect(prompt).not_to_have_text(before, timeout=CELL_WAIT)
    expect(prompt).to_have_text(re.compile(r"\[\d+\]:"), timeout=CELL_WAIT)


def error_outputs(page: Page) -> list[str]:
    """The text of every error shown in the open notebook (a traceback renders as an error output)."""
    errors = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [t for t in errors.all_inner_texts() if re.search(r"Traceback|\w+Error\b", t)]


def write_in_editor(page: Page, lab, path: str, text: str) -> None:
    """A new, empty file at ``path`` (as File → New does), opened in JupyterLab's editor, typed in and saved."""
    _api(lab, "PUT", f"api/contents/{path}", {"type": "file", "format": "text", "content": ""})
    page.goto(lab.url(f"lab/tree/{path}?reset"))
    editor = page.locator(".jp-FileEditor:visible .cm-content")
    expect(editor).to_be_visible(timeout=60_000)
    editor.click()
    page.keyboard.insert_text(text)
    page.keyboard.press("Control+s")
    expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0, timeout=30_000)
    assert (lab.work / path).read_text().strip() == text.strip()


def new_terminal(page: Page):
    menu(page, "File", "New", "Terminal")
    term = page.locator(".jp-Terminal:visible")
    expect(term).to_have_count(1, timeout=30_000)
    page.wait_for_timeout(1500)  # the shell's prompt
    term.click()
    return term


# --- the journey -------------------------------------------------------------------------------
def test_the_file_browser_shows_the_lessons_and_the_labs_and_no_teacher_tools(page: Page, lab, shot):
    open_lab(page, lab)
    for name in ("00-welcome.ipynb", "04-containers.ipynb", "labs"):
        expect(page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$"))).to_be_visible()
    expect(page.locator(".jp-DirListing-itemText", has_text=re.compile("^checks$"))).to_have_count(0)
    shot(page, "file-browser")
    # nbgrader's instructor tools are a teacher's: no menu, no formgrader
    expect(page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")).to_have_count(0)
    open_in_browser(page, "labs")
    expect(page.locator(".jp-DirListing-itemText", has_text="05-dockerfile")).to_be_visible()
    shot(page, "labs")


def test_lesson_00_runs_every_cell_without_an_error(page: Page, lab, shot):
    open_lab(page, lab, "00-welcome.ipynb")
    wait_kernel_idle(page)
    run_all(page)
    shot(page, "ran")
    assert error_outputs(page) == []
    text = " ".join(page.locator(".jp-NotebookPanel:visible .jp-OutputArea").all_inner_texts())
    assert "forwarding is disabled" not in text  # the false warning dockerd used to print on every run
    assert "Hello from Docker" in text or "busybox" in text


def test_lesson_01_namespace_widget_answers_a_click(page: Page, lab, shot):
    open_lab(page, lab, "01-namespaces.ipynb")
    wait_kernel_idle(page)
    run_through(page, 'compare_widget("ns-a", "ns-b")')  # the lesson up to its widget (later cells clean up)
    assert error_outputs(page) == []
    widget = page.locator(".jp-NotebookPanel:visible .widget-vbox", has=page.locator("button", has_text="reload list"))
    widget.scroll_into_view_if_needed()
    expect(widget).to_be_visible()
    table = widget.locator("table")
    expect(table).to_contain_text("ns-a")
    before = table.inner_text()
    shot(page, "widget")
    # choose "host" on the right: the table now compares ns-a with the host
    widget.locator("select").nth(1).select_option(label="host")
    expect(widget.locator(".widget-output")).to_contain_text("ns-a vs host", timeout=30_000)
    assert widget.locator("table").inner_text() != before
    shot(page, "widget-host")
    reload = widget.locator("button", has_text="reload list")
    assert reload.get_attribute("title"), "the button needs a tooltip"
    assert accessibility_problems(page) == []


def test_lesson_04_self_check_fails_with_a_hint_then_passes_after_the_terminal(page: Page, lab, shot):
    open_lab(page, lab, "04-containers.ipynb")
    wait_kernel_idle(page)
    run_cell(page, "import grader")  # the setting-up cell
    run_cell(page, 'task="detached"')
    check = page.locator(".jp-NotebookPanel:visible .jp-CodeCell", has_text='task="detached"').first
    out = check.locator(".jp-OutputArea")
    expect(out).to_contain_text("✗", timeout=CELL_WAIT)
    shot(page, "check-fails")
    # the mark is not told by colour alone; the hint button says what it is
    marks = out.locator("[role='img'][aria-label]")
    assert marks.count() > 0 and "failed" in [marks.nth(i).get_attribute("aria-label") for i in range(marks.count())]
    button = out.locator("button", has_text="hint").first
    assert button.get_attribute("title", timeout=10_000).startswith("Show the hint")
    button.click()
    expect(out.locator("text=Hint:").first).to_be_visible()
    shot(page, "hint")
    assert accessibility_problems(page) == []
    # do the task in a JupyterLab terminal: its docker reaches the sandbox
    new_terminal(page)
    page.keyboard.type("docker run -d --name try-detached -e GREETING=hello busybox sleep 3600\n")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _container_running(lab, "try-detached"):
        time.sleep(0.5)
    assert _container_running(lab, "try-detached"), "the terminal's docker did not reach the sandbox"
    shot(page, "terminal")
    page.locator(".lm-TabBar-tabLabel", has_text="04-containers.ipynb").click()
    run_cell(page, 'task="detached"')
    expect(out).to_contain_text("2 / 2 points", timeout=CELL_WAIT)
    expect(out).not_to_contain_text("✗")
    shot(page, "check-passes")


def test_lab_05_from_the_file_browser_written_in_the_editor_checked_in_the_notebook(page: Page, lab, shot):
    open_lab(page, lab)
    open_in_browser(page, "labs", "05-dockerfile")
    expect(page.locator(".jp-DirListing-itemText", has_text="05-dockerfile.ipynb")).to_be_visible()
    # the two hand-in files, each a new file written in JupyterLab's editor (.dockerignore included: a dotfile)
    for name in ("Dockerfile", ".dockerignore"):
        write_in_editor(page, lab, f"labs/05-dockerfile/{name}", (SOLUTION / name).read_text())
        shot(page, f"editor-{name.strip('.')}")
    assert "FROM" in (lab.work / "labs/05-dockerfile/Dockerfile").read_text()
    open_lab(page, lab, "labs/05-dockerfile")
    expect(page.locator(".jp-DirListing-itemText", has_text=re.compile(r"^\.dockerignore$"))).to_be_visible()
    open_in_browser(page, "05-dockerfile.ipynb")
    wait_kernel_idle(page)
    run_all(page)
    shot(page, "checked")
    text = " ".join(page.locator(".jp-NotebookPanel:visible .jp-OutputArea").all_inner_texts())
    assert error_outputs(page) == [], text[-2000:]
    assert "✓" in text and "✗" not in text, text[-2000:]
    assert accessibility_problems(page) == []


def _container_running(lab, name: str) -> bool:
    try:
        return lab.box.client.containers.get(name).status == "running"
    except Exception:  # noqa: BLE001 - not there yet
        return False


def _api(lab, method: str, path: str, body: dict | None = None):
    req = urllib.request.Request(lab.url(path), method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")
