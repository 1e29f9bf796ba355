# The welfare-watch image: one image, one command per service (worker, connectors, web).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY welfare_watch welfare_watch
COPY streams streams
COPY alerts alerts
COPY connectors connectors
COPY stack stack
COPY simulate simulate
COPY web web
COPY config config
# WW_DATA_DIR in docker-compose.yml: the file-drop inbox lives under it
RUN pip install --no-cache-dir -e . && useradd --system ww \
    && mkdir -p /var/lib/welfare-watch/inbox && chown -R ww /var/lib/welfare-watch
USER ww
ENTRYPOINT ["welfare-watch"]
CMD ["--help"]
