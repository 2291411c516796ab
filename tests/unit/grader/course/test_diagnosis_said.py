"""What a teacher reads when nbgrader failed: the exception that caused it, not only nbgrader's wrapper."""

from grader.course.diagnosis import last_lines

WRAPPED = """[AutogradeApp | ERROR] There was an error processing assignment: /course/submitted/s/06
Traceback (most recent call last):
  File "nbgrader/converters/base.py", line 400, in _convert
RuntimeError: the kernel did not start: no free kernel uid
During handling of the above exception, another exception occurred:
    app.start()
  File "nbgrader/converters/base.py", line 132, in start
    self.convert_notebooks()
  File "nbgrader/converters/base.py", line 468, in convert_notebooks
    raise NbGraderException(msg)
nbgrader.converters.base.NbGraderException: Please see the the above traceback for details"""


def test_the_cause_leads_what_nbgrader_said():
    said = last_lines(WRAPPED)
    assert said.startswith("RuntimeError: the kernel did not start: no free kernel uid … ")
    assert said.endswith("Please see the the above traceback for details")


def test_short_answers_stay_as_they_are():
    assert last_lines("kernel died\nbye") == "kernel died / bye"
