FROM python:3.11-slim
# the user the service is meant to run as; nothing here switches to it
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY app.py .
EXPOSE 80
CMD ["python3", "/app/app.py"]
