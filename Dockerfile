# The welfare-watch image: one image, one command per service (worker, connectors, web).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY welfare_watch welfare_watch
COPY streams streams
COPY alerts alerts
COPY connectors connectors
COPY stack stack
COPY config config
RUN pip install --no-cache-dir -e . && useradd --system ww
USER ww
ENTRYPOINT ["welfare-watch"]
CMD ["--help"]
