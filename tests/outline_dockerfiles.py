"""The course outline's example Dockerfiles, kept verbatim as test input (trailing spaces included).

They are what the outline teaches, faults and all: the grader must name each fault.
"""

OUTLINE_API = """\
FROM ubuntu:18.04  
MAINTAINER Adam Angell  
RUN apt-get update -y && apt-get install -y   python3-pip python3-dev  
CMD [ "ufw allow 5000" ]  
COPY ./requirements.txt /app/requirements.txt  
WORKDIR /app  
RUN pip3 install -r requirements.txt  
COPY  ./myAPI.py /app  
ENTRYPOINT [ "python3" ]  
CMD [ "myAPI.py" ]  
"""
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
