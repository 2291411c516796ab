"""A Dockyard class on Kubernetes, generated and validated offline.

- :mod:`.values`: the Zero to JupyterHub values file (KubeSpawner, sysbox learner pods, home
  volumes, the exchange on a ReadWriteMany volume, limits, formgrader, the idle culler) and the
  objects beside the chart (volumes, formgrader's Deployment and Service);
- :mod:`.jobs`: class grading as an Indexed Job plus a merge Job (:mod:`grader.course.job` runs in them);
- :mod:`.learner`: what a learner's pod runs;
- :mod:`.validate`: kubernetes-validate and KubeSpawner's own pod builder, no cluster needed.
"""
