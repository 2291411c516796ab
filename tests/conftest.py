"""The whole suite's order: the browser tests last.

Their session-scoped fixtures (a running `dockyard lab` and its sandbox, playwright's event loop in the main
thread) then live only while they run, not through every test after them."""


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: "tests/browser/" in str(item.fspath).replace("\\", "/"))
