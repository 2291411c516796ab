"""`dockyard hub`: a class on one machine, on JupyterHub.

- :mod:`.roster`: the class list (names, roles, password hashes, a uid each) and the pure rules about it;
- :mod:`.auth`: the offline authenticator that checks the roster;
- :mod:`.spawner`: each learner's server starts with their own sealed sandbox and ends with it;
- :mod:`.exchange`: nbgrader's exchange folder, its modes, and the passwd view that names a learner's uid;
- :mod:`.config`: the JupyterHub configuration (proxy, services: idle culler and formgrader);
- :mod:`.run`: starting the hub and clearing what a dead one left.
"""
