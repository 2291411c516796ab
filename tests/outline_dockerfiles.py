"""The course outline's example Dockerfiles, kept verbatim as test input (trailing spaces included).

They are what the outline teaches, faults and all: the grader must name each fault. The Python API's is lesson
08's too, so it lives with the lesson's helpers.
"""

from dockyard.notebook.capstone import OUTLINE_API

__all__ = ["OUTLINE_API", "OUTLINE_NODE", "OUTLINE_VENV"]

OUTLINE_NODE = """\
FROM node:current-slim
WORKDIR /usr/scr/app
COPY package.json .
RUN npm install
EXPOSE 8111
COPY . .
CMD ["node", "server.js"]
"""
OUTLINE_VENV = """\
FROM ubuntu:focal
WORKDIR /
RUN apt-get update
RUN apt-get install -y python3 python3-distutils python3-pip
RUN pip install virtualenvwrapper
RUN export WORKON_HOME=~/Envs
RUN mkdir -p $WORKON_HOME
RUN source /usr/local/bin/virtualenvwrapper.sh
CMD mkvirtualenv env1"""
